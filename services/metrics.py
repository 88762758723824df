"""Metrics of a call (timing, tokens per second) and cost from configured prices."""

from __future__ import annotations

import math
import time

from services.config import Deployment
from services.schemas import Metrics, Usage

# About four characters per token for English text: good enough for a labelled estimate.
_CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """A rough token count for text whose usage the endpoint did not report."""
    return math.ceil(len(text) / _CHARS_PER_TOKEN) if text else 0


def cost(usage: Usage | None, deployment: Deployment) -> float | None:
    """The price of one call from the deployment's per-1k prices; None when no price or usage is known."""
    if usage is None or (deployment.price_per_1k_input is None and deployment.price_per_1k_output is None):
        return None
    return usage.prompt_tokens / 1000 * (deployment.price_per_1k_input or 0.0) + usage.completion_tokens / 1000 * (
        deployment.price_per_1k_output or 0.0
    )


class Stopwatch:
    """Measures total time and time to first token of one call (monotonic clock)."""

    __slots__ = ("first", "start")

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None

    def mark_first(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def metrics(
        self,
        *,
        request_id: str,
        usage: Usage | None,
        finish_reason: str | None,
        text: str = "",
        generated: bool = True,
    ) -> Metrics:
        """Metrics now; tokens per second from usage if reported, else estimated from the text (and flagged)."""
        total = time.perf_counter() - self.start
        ttft = None if self.first is None else self.first - self.start
        tokens_per_s = None
        estimated = False
        if generated:
            tokens = usage.completion_tokens if usage is not None else estimate_tokens(text)
            estimated = usage is None
            # Generation speed counts from the first token when streaming, else over the whole call.
            span = total - ttft if ttft is not None and total - ttft > 1e-6 else total
            tokens_per_s = tokens / span if span > 0 and tokens else (0.0 if span > 0 else None)
        return Metrics(
            ttft_s=ttft,
            total_s=total,
            tokens_per_s=tokens_per_s,
            tokens_estimated=estimated,
            request_id=request_id,
            usage=usage,
            finish_reason=finish_reason,
        )
