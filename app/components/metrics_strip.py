"""One line of measurements under an answer: time to first token, total time, speed, tokens, finish reason, cost."""

from __future__ import annotations

import streamlit as st

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


def render_metrics(metrics: Metrics, deployment: Deployment) -> None:
    """Show the measurements of one call as a compact caption."""
    st.caption(" · ".join(metrics_parts(metrics, deployment)))
