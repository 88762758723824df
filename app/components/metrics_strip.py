"""One line of measurements under an answer: time to first token, total time, speed, tokens, finish reason, cost,
and the retries it needed (linked to its trace on the Traces page). In presenter mode: large figures (st.metric), no
trace link."""

from __future__ import annotations

import streamlit as st

from app.components import presenter
from app.components.error_card import plain
from app.components.trace_links import is_trace_id, trace_url
from services.config import Deployment
from services.metrics import cost
from services.schemas import Metrics


def metrics_parts(metrics: Metrics, deployment: Deployment) -> list[str]:
    """The strip's items as short labelled strings, in display order (only the ones that are known)."""
    parts: list[str] = []
    if metrics.ttft_s is not None:
        parts.append(f"first token {metrics.ttft_s:.2f} s")
    parts.append(f"total {metrics.total_s:.2f} s")
    if metrics.tokens_per_s is not None:
        approx = "≈" if metrics.tokens_estimated else ""
        parts.append(f"{approx}{metrics.tokens_per_s:.1f} tokens/s")
    if metrics.usage is not None:
        parts.append(f"{metrics.usage.prompt_tokens} prompt + {metrics.usage.completion_tokens} completion tokens")
    if metrics.finish_reason:
        parts.append(f"finish: {metrics.finish_reason}")
    price = cost(metrics.usage, deployment) if metrics.usage is not None else None
    if price is not None:
        parts.append(f"cost ${price:.6f}".rstrip("0").rstrip(".") if price else "cost $0")
    return parts


def retry_note(metrics: Metrics) -> str | None:
    """ "after 1 retry, 1.0 s waiting on 429" for an answer that needed retries; None when it needed none."""
    if metrics.retries <= 0:
        return None
    note = f"after {metrics.retries} {'retry' if metrics.retries == 1 else 'retries'}"
    reasons = list(dict.fromkeys(metrics.retry_reasons))  # each reason once, in the order they happened
    if metrics.retry_wait_s > 0 or reasons:
        note += f", {metrics.retry_wait_s:.1f} s waiting"
        if reasons:
            note += " on " + ", ".join(reasons)
    return note


def stage_figures(metrics: Metrics, deployment: Deployment) -> list[tuple[str, str]]:
    """(label, value) pairs for presenter mode's large figures, in display order (only the ones that are known)."""
    figures: list[tuple[str, str]] = []
    if metrics.ttft_s is not None:
        figures.append(("First token", f"{metrics.ttft_s:.2f} s"))
    figures.append(("Total time", f"{metrics.total_s:.2f} s"))
    if metrics.tokens_per_s is not None:
        figures.append(("Speed", f"{'≈' if metrics.tokens_estimated else ''}{metrics.tokens_per_s:.0f} tokens/s"))
    if metrics.usage is not None:
        figures.append(("Tokens", f"{metrics.usage.prompt_tokens + metrics.usage.completion_tokens:,}"))
    price = cost(metrics.usage, deployment) if metrics.usage is not None else None
    if price is not None:
        figures.append(("Cost", f"${price:.4f}" if price >= 0.0001 or not price else "< $0.0001"))
    return figures


def _render_on_stage(metrics: Metrics, deployment: Deployment) -> None:
    row = st.container(horizontal=True, gap="large")
    for label, value in stage_figures(metrics, deployment):
        row.metric(label, value, width="content")
    if metrics.retries > 0:
        st.caption(f"after {metrics.retries} {'retry' if metrics.retries == 1 else 'retries'}")


def render_metrics(metrics: Metrics, deployment: Deployment) -> None:
    """Show the measurements of one call as a compact caption; a retried call links to its trace. In presenter mode,
    large figures instead."""
    if presenter.is_on():
        _render_on_stage(metrics, deployment)
        return
    parts = metrics_parts(metrics, deployment)
    note = retry_note(metrics)
    if note is not None:
        # The reasons come from the client ("429", "connect"), but they are escaped like any text in markdown.
        shown = plain(note)
        parts.append(f"[{shown}]({trace_url(metrics.trace_id)})" if is_trace_id(metrics.trace_id) else shown)
    st.caption(" · ".join(parts))
