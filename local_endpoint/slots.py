"""One loaded model instance: loads in the background, serves one request at a time, refuses beyond its queue."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from local_endpoint.errors import QueueFull, model_unavailable

M = TypeVar("M")
log = logging.getLogger("local_endpoint")


class Turn:
    """The right to use a slot's model; released exactly once, possibly by a worker future that outlives the request."""

    def __init__(self, slot: ModelSlot[Any]) -> None:
        self._slot = slot
        self._released = False
        self._handed_over = False

    def hand_over(self, future: asyncio.Future[Any]) -> None:
        """Release when `future` (work on the model's thread) finishes, not when the request ends."""
        self._handed_over = True
        future.add_done_callback(lambda _: self._release())

    def release_unless_handed_over(self) -> None:
        """Release now unless a worker future owns the turn."""
        if not self._handed_over:
            self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._slot._finish_turn()


class ModelSlot(Generic[M]):
    """A model loaded by `loader` on its own worker thread; requests queue for it up to `max_queue` waiting."""

    def __init__(self, deployment: str, loader: Callable[[], M], max_queue: int) -> None:
        self.deployment = deployment
        self.max_queue = max_queue
        self._loader = loader
        self._model: M | None = None
        self.error: str | None = None
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{deployment}")
        self._loaded: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._waiting = 0
        # Seconds one request holds the model (moving average); None until the first turn has ended.
        self._service_s: float | None = None
        self._turn_started = 0.0

    @property
    def state(self) -> str:
        """`loading`, `ready` or `failed`."""
        if self._model is not None:
            return "ready"
        return "failed" if self.error is not None else "loading"

    @property
    def busy(self) -> bool:
        """True while a request holds the model (including generation that outlives its client by a token)."""
        return self._lock is not None and self._lock.locked()

    def start_loading(self) -> None:
        """Begin loading on the model's worker thread (call from inside the running event loop)."""
        loop = asyncio.get_running_loop()
        self._loaded = asyncio.Event()
        self._lock = asyncio.Lock()
        future = loop.run_in_executor(self.executor, self._load)
        future.add_done_callback(lambda _: self._loaded.set() if self._loaded else None)

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            self._model = self._loader()
            log.info("%s loaded in %.1f s", self.deployment, time.perf_counter() - started)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("%s failed to load: %s", self.deployment, self.error)

    async def model(self) -> M:
        """The loaded model, waiting for loading to finish; 503 with the reason when it failed."""
        if self._loaded is None:
            raise model_unavailable(self.deployment, "the server has not started loading models")
        await self._loaded.wait()
        if self._model is None:
            raise model_unavailable(self.deployment, self.error or "unknown load failure")
        return self._model

    async def take_turn(self) -> Turn:
        """Wait for the model to be free; 429 when `max_queue` requests already wait."""
        await self.model()
        assert self._lock is not None
        if self._lock.locked() and self._waiting >= self.max_queue:
            # Seconds until the queue has drained, at least one. A request takes the measured average, or at least
            # as long as the running one has taken so far (all there is to go by before any turn has ended).
            running_s = time.perf_counter() - self._turn_started
            per_request = max(self._service_s or 0.0, running_s)
            retry_after = max(1, math.ceil(per_request * (self._waiting + 1)))
            raise QueueFull(self.deployment, retry_after)
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        self._turn_started = time.perf_counter()
        return Turn(self)

    def _finish_turn(self) -> None:
        assert self._lock is not None
        elapsed = time.perf_counter() - self._turn_started
        self._service_s = elapsed if self._service_s is None else 0.8 * self._service_s + 0.2 * elapsed
        self._lock.release()

    def run(self, turn: Turn, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run `fn(model, *args)` on the model's worker thread; the turn ends when it finishes."""
        assert self._model is not None
        future = asyncio.get_running_loop().run_in_executor(self.executor, fn, self._model, *args)
        turn.hand_over(future)
        return future

    def cancel_pending(self) -> None:
        """Drop queued work and let the worker thread end (at shutdown)."""
        self.executor.shutdown(wait=False, cancel_futures=True)
