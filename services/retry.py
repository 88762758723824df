"""When to retry and how long to wait: exponential backoff with jitter, honouring the retry-after headers."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from services.errors import retry_after_seconds

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Failures before any response arrived: the request can safely be sent again.
RETRY_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """`max_retries` None takes the deployment's budget; `max_wait` caps a server-requested wait we accept."""

    max_retries: int | None = None
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_wait: float = 30.0
    jitter: float = 0.25

    def budget(self, deployment_retries: int) -> int:
        return deployment_retries if self.max_retries is None else self.max_retries

    def backoff(self, attempt: int) -> float:
        """Wait before retry number `attempt` (1-based): base x 2^(attempt-1), capped, +/- jitter."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return max(0.0, delay * (1 + random.uniform(-self.jitter, self.jitter)))

    def wait_for(self, attempt: int, headers: Mapping[str, str] | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the server asks for longer than `max_wait`."""
        asked = retry_after_seconds(headers) if headers is not None else None
        if asked is None:
            return self.backoff(attempt)
        return asked if asked <= self.max_wait else None


DEFAULT_POLICY = RetryPolicy()
