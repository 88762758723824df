"""One turn against several deployments at once: worker threads stream into thread-safe buffers the UI polls.

The comparison's data (turns, replies, metrics, votes) is in `services.compare_model`. No streamlit here: the page
owns rendering, and only the page's script thread touches the UI.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from services import tracing
from services.compare_model import FINISHED, MAX_PANES, PaneSnapshot, PaneStatus
from services.config import Deployment
from services.schemas import ChatResult, StreamDelta
from services.transport import CancelScope


class ChatStreamLike(Protocol):
    """What a pane needs from `services.client.ChatStream`."""

    def __iter__(self) -> Iterator[StreamDelta]: ...
    def close(self) -> None: ...
    @property
    def result(self) -> ChatResult: ...


class StreamingClient(Protocol):
    """What a pane needs from `services.client.InferenceClient`."""

    def stream_chat(self, messages: list[dict[str, Any]], **params: Any) -> ChatStreamLike: ...


@dataclass(frozen=True)
class PaneJob:
    """One pane's share of a turn: who to ask, what to send."""

    pane_id: str
    deployment: Deployment
    client: StreamingClient
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)


class PaneBuffer:
    """Thread-safe per-pane buffer: a worker thread writes deltas, the UI thread reads snapshots."""

    def __init__(self, pane_id: str, deployment: str) -> None:
        self.pane_id = pane_id
        self.deployment = deployment
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._updates: list[float] = []
        self._status: PaneStatus = "waiting"
        self._started_at: float | None = None
        self._finished_at: float | None = None
        self._result: ChatResult | None = None
        self._error: Exception | None = None
        self._stream: ChatStreamLike | None = None

    def start(self) -> None:
        """Mark the request as sent."""
        with self._lock:
            self._status = "streaming"
            self._started_at = time.monotonic()

    def attach(self, stream: ChatStreamLike) -> None:
        """Remember the open stream so stop() can close it from another thread."""
        with self._lock:
            self._stream = stream

    def append(self, delta: StreamDelta) -> None:
        """Add one delta's text with its arrival time."""
        if not delta.content:
            return
        with self._lock:
            self._parts.append(delta.content)
            self._updates.append(time.monotonic())

    def finish(self, result: ChatResult | None, *, stopped: bool, error: Exception | None = None) -> None:
        """Record the outcome; the text that arrived stays whatever happened."""
        with self._lock:
            if self._status in FINISHED:
                return
            self._result = result
            self._error = error
            self._status = "error" if error is not None else ("stopped" if stopped else "done")
            self._finished_at = time.monotonic()
            self._stream = None

    def close_stream(self) -> None:
        """Close the open connection (if any) at once; the worker then sees the end of its iterator or an error."""
        with self._lock:
            stream = self._stream
        if stream is not None:
            # Closing a half-dead connection must never break Stop.
            with contextlib.suppress(Exception):
                stream.close()

    def snapshot(self) -> PaneSnapshot:
        """A consistent copy of everything so far."""
        with self._lock:
            return PaneSnapshot(
                pane_id=self.pane_id,
                deployment=self.deployment,
                status=self._status,
                text="".join(self._parts),
                updates=tuple(self._updates),
                started_at=self._started_at,
                finished_at=self._finished_at,
                result=self._result,
                error=self._error,
            )


def _safe_result(stream: ChatStreamLike | None) -> ChatResult | None:
    """The stream's assembled result, or None when it cannot give one."""
    if stream is None:
        return None
    try:
        return stream.result
    except Exception:  # a broken stream has no result; the buffer keeps the text
        return None


class CompareRun:
    """One turn against N deployments, each pane in its own thread, all at the same time."""

    def __init__(self, jobs: Sequence[PaneJob]) -> None:
        if not jobs:
            raise ValueError("A comparison needs at least one pane.")
        if len(jobs) > MAX_PANES:
            raise ValueError(f"A comparison has at most {MAX_PANES} panes, got {len(jobs)}.")
        self.jobs = list(jobs)
        self.buffers = {job.pane_id: PaneBuffer(job.pane_id, job.deployment.name) for job in jobs}
        if len(self.buffers) != len(jobs):
            raise ValueError("Pane ids must be unique.")
        self._stop = threading.Event()
        # Stop before a pane's first byte must drop its connection too (services.transport.CancelScope).
        self._scopes = {job.pane_id: CancelScope() for job in jobs}
        self._threads: list[threading.Thread] = []
        self.started_at: float | None = None

    def start(self) -> CompareRun:
        """Send the turn to every pane; returns at once."""
        self.started_at = time.monotonic()
        for job in self.jobs:
            thread = threading.Thread(
                target=tracing.carry(self._work), args=(job,), name=f"compare-{job.pane_id}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return self

    def _work(self, job: PaneJob) -> None:
        with self._scopes[job.pane_id]:
            self._run_pane(job)

    def _run_pane(self, job: PaneJob) -> None:
        buffer = self.buffers[job.pane_id]
        buffer.start()
        stream: ChatStreamLike | None = None
        error: Exception | None = None
        try:
            stream = job.client.stream_chat(job.messages, **job.params)
            buffer.attach(stream)
            # Stop may have come while the request was still connecting.
            if self._stop.is_set():
                buffer.close_stream()
            else:
                for delta in stream:
                    buffer.append(delta)
                    if self._stop.is_set():
                        break
        except Exception as err:  # every failure becomes this pane's error, never the others'
            error = err
        stopping = self._stop.is_set()
        if stream is not None:
            # Closed before the result is read: a worker that saw Stop before stop() reached close_stream() still
            # gets an answer marked stopped (close() is idempotent, and leaves a complete answer complete).
            with contextlib.suppress(Exception):
                stream.close()
        result = _safe_result(stream)
        if stopping:
            # After Stop an error is the connection we closed ourselves, and an answer that came in whole just as
            # Stop was pressed is done: neither is a failure.
            complete = error is None and result is not None and result.finish_reason is not None
            buffer.finish(result, stopped=not complete)
        else:
            buffer.finish(result, stopped=False, error=error)

    def stop(self) -> None:
        """Stop every pane now; what arrived so far is kept."""
        self._stop.set()
        for scope in self._scopes.values():
            scope.cancel()
        for buffer in self.buffers.values():
            buffer.close_stream()

    @property
    def stopping(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every pane has finished or the timeout passes; True when all finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return self.done

    @property
    def done(self) -> bool:
        """True when every pane has finished."""
        return all(snap.finished for snap in self.snapshots().values())

    def snapshots(self) -> dict[str, PaneSnapshot]:
        """A snapshot of every pane, in pane order."""
        return {pane_id: buffer.snapshot() for pane_id, buffer in self.buffers.items()}


def run_turn(jobs: Sequence[PaneJob], timeout: float | None = None) -> dict[str, PaneSnapshot]:
    """Run one turn against every pane concurrently and wait for all of them."""
    run = CompareRun(jobs).start()
    run.wait(timeout)
    return run.snapshots()
