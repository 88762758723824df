"""Two runs of the viewer side by side: per deployment and check, the other run's pass rate, this run's, and the
change in points ("did the new system prompt help?"). Runs on a different dataset are not compared: it says so."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from app.auth import NotSignedInError, current_viewer
from services.error_words import plain
from services.eval_figures import RateChange, compare_runs, same_dataset
from services.store.eval_summary import DeploymentSummary
from services.store.evals import EvalStore, RunRecord

COMPARE_KEY = "evres_compare"
RUNS_LISTED = 100


def compare_frame(changes: Sequence[RateChange]) -> pd.DataFrame:
    """One line per deployment and check: the other run's rate, this run's, and this minus the other, in points."""
    return pd.DataFrame(
        {
            "Deployment": [c.deployment for c in changes],
            "Check": [c.check for c in changes],
            "Other run pass %": pd.Series([c.rate_a for c in changes], dtype="float64"),
            "This run pass %": pd.Series([c.rate_b for c in changes], dtype="float64"),
            "Change (points)": pd.Series([c.difference for c in changes], dtype="float64"),
        }
    )


def differences(this: RunRecord, other: RunRecord) -> list[str]:
    """What the two runs did differently, in words (the prompt, deployments, parameters, evaluators)."""
    found = []
    if this.prompt_json != other.prompt_json:
        found.append("the prompt")
    if set(this.deployments) != set(other.deployments):
        found.append("the deployments")
    if this.overrides != other.overrides:
        found.append("the parameters per deployment")
    if this.evaluators != other.evaluators:
        found.append("the evaluators")
    return found


def _label(run: RunRecord, this: RunRecord) -> str:
    when = datetime.datetime.fromtimestamp(run.created).strftime("%Y-%m-%d %H:%M")
    dataset = "same dataset" if same_dataset(run, this) else f"other dataset: {run.dataset_name}"
    return f"{run.name} · {when} · {run.status} · {dataset}"


def render_compare(store: EvalStore, record: RunRecord, summaries: Sequence[DeploymentSummary]) -> None:
    """The picker of the viewer's other runs (same dataset first) and, for one on the same dataset, the rates."""
    try:
        viewer = current_viewer()
    except NotSignedInError:
        return
    runs = [run for run in store.runs_for(viewer, limit=RUNS_LISTED) if run.id != record.id]
    if not runs:
        st.caption("No other run to compare with yet: run the same dataset again (a new prompt, say) to compare.")
        return
    runs.sort(key=lambda run: not same_dataset(run, record))  # stable: newest first within each group
    labels = {run.id: _label(run, record) for run in runs}
    picked = st.selectbox(
        "Compare with another run",
        list(labels),
        format_func=labels.__getitem__,
        index=None,
        placeholder="Pick a run on the same dataset",
        key=COMPARE_KEY,
    )
    if picked is None:
        return
    other = store.load_run(str(picked), viewer)  # read again, with the viewer: it may be gone since it was listed
    if other is None:
        st.warning("That run is no longer there.")
        return
    if not same_dataset(other, record):
        st.warning(
            f"That run used another dataset ({plain(other.dataset_name)}, digest {plain(other.dataset_digest[:19])};"
            f" this run's is {plain(record.dataset_name)}, {plain(record.dataset_digest[:19])}): their pass rates are"
            " not comparable."
        )
        return
    changed = differences(record, other)
    what = ("Changed: " + ", ".join(changed) + ".") if changed else "Same prompt, deployments and evaluators."
    st.caption(f"Other run: {plain(other.name)}. {what} Change is this run's pass rate minus the other's.")
    changes = compare_runs(other, store.summary(other.id), record, summaries)
    if not changes:
        st.caption("Neither run has a pass/fail check to compare.")
        return
    st.dataframe(
        compare_frame(changes),
        hide_index=True,
        key=f"evres_compare_table_{other.id}",
        column_config={
            column: st.column_config.NumberColumn(format="%+.1f" if column.startswith("Change") else "%.1f%%")
            for column in ("Other run pass %", "This run pass %", "Change (points)")
        },
    )
