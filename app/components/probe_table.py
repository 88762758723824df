"""The capability map: a Probe button and a deployment x capability table merged with the 422s seen."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app import run_slots, state
from app.components.probe_store import store_reports, stored_report, stored_reports
from services import tracing
from services.capabilities import merge_seen
from services.probe import CAPABILITIES, CapabilityResult, Status, probe_all

SYMBOLS = {Status.SUPPORTED: "supported", Status.NOT_SUPPORTED: "not supported", Status.UNKNOWN: "unknown"}
# Cell colours by status (text alone must carry the meaning too: the words are the status).
COLOURS = {
    "supported": "background-color: #d9f2dc; color: #14532d",
    "not supported": "background-color: #fbe0e0; color: #7f1d1d",
    "unknown": "background-color: #eeeeee; color: #444444",
}

# The map in two tables of six capabilities: all twelve in one are wider than the page at 1400 px, which hid the last.
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Routes", ("chat", "streaming", "embeddings", "image_embeddings", "text_completion", "image_generation")),
    ("Chat options", ("json_object", "json_schema", "tools", "seed", "stop", "pass_through")),
)


def run_probe(names: list[str] | None = None) -> None:
    """Probe the named deployments (all when None) in parallel and keep the reports."""
    deployments = state.all_deployments()
    targets = [deployments[n] for n in (names or list(deployments)) if n in deployments]
    with st.spinner(f"Probing {len(targets)} deployment(s) with tiny requests…"):
        with run_slots.released(), tracing.action("capability probe"):
            reports = probe_all(targets)
        store_reports(reports)


def capability_matrix(
    merged: dict[str, dict[str, CapabilityResult]], keys: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Rows are deployments, columns capabilities (those in `keys`, else all), cells the status in words."""
    chosen = [c for c in CAPABILITIES if keys is None or c.key in keys]
    rows = []
    for name, results in merged.items():
        row = {"deployment": name}
        row.update({c.label: SYMBOLS[results[c.key].status] for c in chosen})
        rows.append(row)
    return pd.DataFrame(rows)


def _styled(matrix: pd.DataFrame) -> Any:
    return matrix.style.map(lambda value: COLOURS.get(value, ""), subset=list(matrix.columns[1:]))


def render_capability_map() -> None:
    """Probe button, probe times, the table, and every answer's reason in words."""
    deployments = state.all_deployments()
    st.subheader("Capability map")
    st.caption(
        "Probe sends a tiny request (at most 2 tokens) per capability to every deployment, deployments in parallel. "
        "Refusals seen on the chat and compare pages count too."
    )
    if st.button("Probe", type="primary", key="models_probe", disabled=not deployments):
        run_probe()
    merged = {name: merge_seen(stored_report(name), state.unsupported_params(name)) for name in deployments}
    if not merged:
        return
    reports = stored_reports()
    if not any(name in reports for name in deployments):
        st.info("Not probed yet: press Probe to fill the table.")
    for number, (title, keys) in enumerate(TABLES):
        st.markdown(f"**{title}**")
        key = "models_capabilities" if number == 0 else f"models_capabilities_{number}"
        st.dataframe(_styled(capability_matrix(merged, keys)), hide_index=True, width="stretch", key=key)
    st.caption(
        "pass-through extra: `top_k: 1` sent with `extra-parameters: pass-through`. "
        "text completion: OpenAI's classic `/completions` route (a raw prompt continued; not part of the Azure API). "
        "Open a deployment's details below for each answer in words."
    )
    for name, results in merged.items():
        report = reports.get(name)
        when = (
            f"probed at {report.probed_at.astimezone().strftime('%H:%M:%S')} in {report.duration_s:.1f} s"
            if report
            else "not probed"
        )
        with st.expander(f"{name}: details ({when})"):
            st.markdown(_details_markdown(results))


def _details_markdown(results: dict[str, CapabilityResult]) -> str:
    lines = ["| capability | result | why | time |", "|---|---|---|---|"]
    for capability in CAPABILITIES:
        result = results[capability.key]
        took = "–" if result.elapsed_s is None else f"{result.elapsed_s * 1000:.0f} ms"
        why = result.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {capability.label} | {SYMBOLS[result.status]} | {why} | {took} |")
    return "\n".join(lines)
