"""One line of measurements under an answer: time to first token, total time, speed, tokens, finish reason, cost,
and the retries it needed (linked to its trace on the Traces page)."""

from __future__ import annotations

import streamlit as st

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


def render_metrics(metrics: Metrics, deployment: Deployment) -> None:
    """Show the measurements of one call as a compact caption; a retried call links to its trace."""
    parts = metrics_parts(metrics, deployment)
    note = retry_note(metrics)
    if note is not None:
        # The reasons come from the client ("429", "connect"), but they are escaped like any text in markdown.
        shown = plain(note)
        parts.append(f"[{shown}]({trace_url(metrics.trace_id)})" if is_trace_id(metrics.trace_id) else shown)
    st.caption(" · ".join(parts))
