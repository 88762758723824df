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


# Below this many seconds between first and last token, a per-token rate is noise: fall back to the whole call.
_MIN_GENERATION_WINDOW_S = 0.05


class Stopwatch:
    """Measures total time, time to first token and time of the last token of one call (monotonic clock)."""

    __slots__ = ("end", "first", "last", "retry_reasons", "retry_wait", "start", "trace_id")

    def __init__(self, trace_id: str | None = None) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.end: float | None = None
        self.trace_id = trace_id
        self.retry_reasons: list[str] = []
        self.retry_wait = 0.0

    def retried(self, reason: str, wait: float) -> None:
        """An attempt failed with `reason` ("429", "connect") and is sent again after `wait` seconds."""
        self.retry_reasons.append(reason)
        self.retry_wait += wait

    def mark_first(self) -> None:
        """Record a generated piece: the first one sets time to first token, every one moves the last-token time."""
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now

    def stop(self) -> None:
        """Freeze the total time (the call ended or was stopped); later reads of the metrics do not grow it."""
        if self.end is None:
            self.end = time.perf_counter()

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
        total = (self.end if self.end is not None else time.perf_counter()) - self.start
        ttft = None if self.first is None else self.first - self.start
        tokens_per_s = None
        estimated = False
        if generated:
            tokens = usage.completion_tokens if usage is not None else estimate_tokens(text)
            estimated = usage is None
            tokens_per_s = _rate(tokens, total, self.first, self.last)
        return Metrics(
            ttft_s=ttft,
            total_s=total,
            tokens_per_s=tokens_per_s,
            tokens_estimated=estimated,
            request_id=request_id,
            usage=usage,
            finish_reason=finish_reason,
            retries=len(self.retry_reasons),
            retry_wait_s=self.retry_wait,
            retry_reasons=list(self.retry_reasons),
            trace_id=self.trace_id,
        )


def _rate(tokens: int, total: float, first: float | None, last: float | None) -> float | None:
    """Generation speed: the tokens after the first over the time between first and last token when streamed
    (time to first token is latency, not speed), else all tokens over the whole call."""
    if not tokens:
        return 0.0 if total > 0 else None
    if first is not None and last is not None and tokens > 1 and last - first >= _MIN_GENERATION_WINDOW_S:
        return (tokens - 1) / (last - first)
    return tokens / total if total > 0 else None
