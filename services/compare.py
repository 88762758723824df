"""One turn against several deployments at once: worker threads stream into thread-safe buffers the UI polls.

Also the plain data of a comparison (turns, replies, votes), its metrics table and the blind-mode labels. No streamlit
here: the page owns rendering, and only the page's script thread touches the UI.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from services import tracing
from services.config import Deployment
from services.metrics import cost as usage_cost
from services.schemas import ChatResult, Metrics, StreamDelta, ToolCall
from services.transport import CancelScope

PaneStatus = Literal["waiting", "streaming", "done", "stopped", "error"]
FINISHED: frozenset[str] = frozenset({"done", "stopped", "error"})
TIE = "tie"
ALL_BAD = "all-bad"
BLIND_LABELS = ("Model A", "Model B", "Model C", "Model D")
MAX_PANES = 4


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


@dataclass(frozen=True)
class PaneSnapshot:
    """A consistent copy of one pane's buffer, safe to read from any thread."""

    pane_id: str
    deployment: str
    status: PaneStatus
    text: str
    updates: tuple[float, ...]  # time.monotonic() of every delta that carried content
    started_at: float | None
    finished_at: float | None
    result: ChatResult | None
    error: Exception | None

    @property
    def finished(self) -> bool:
        """True once the pane has stopped for good (done, stopped or failed)."""
        return self.status in FINISHED


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


# --- the conversation ---------------------------------------------------------------------------------------------


@dataclass
class PaneReply:
    """One pane's answer in a finished turn, with what it was asked with."""

    pane_id: str
    deployment: str
    text: str
    status: PaneStatus
    tool_calls: list[ToolCall] = field(default_factory=list)
    error: Exception | None = None
    metrics: Metrics | None = None
    cost: float | None = None
    system_prompt: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True for a request that failed before any answer: its prompt is left out of the pane's later history."""
        return self.error is not None and not self.text and not self.tool_calls


@dataclass
class Turn:
    """One prompt sent to every pane, the replies, and the vote (a pane id, TIE, ALL_BAD or None)."""

    prompt: str
    replies: dict[str, PaneReply] = field(default_factory=dict)
    vote: str | None = None


def reply_from_snapshot(
    snap: PaneSnapshot,
    deployment: Deployment | None,
    *,
    system_prompt: str = "",
    params: Mapping[str, Any] | None = None,
) -> PaneReply:
    """Freeze a finished pane into a reply, priced with the deployment's rates (no cost when it is gone)."""
    result = snap.result
    metrics = result.metrics if result is not None else None
    usage = (result.usage or result.metrics.usage) if result is not None else None
    return PaneReply(
        pane_id=snap.pane_id,
        deployment=snap.deployment,
        text=snap.text or (result.content if result is not None else ""),
        status=snap.status if snap.finished else "stopped",
        tool_calls=list(result.tool_calls) if result is not None else [],
        error=snap.error,
        metrics=metrics,
        cost=usage_cost(usage, deployment) if usage is not None and deployment is not None else None,
        system_prompt=system_prompt,
        params=dict(params or {}),
    )


def pane_messages(turns: Iterable[Turn], pane_id: str, system_prompt: str, prompt: str) -> list[dict[str, Any]]:
    """The messages one pane sends next: its own history (only its own replies) plus the new prompt.

    A turn this pane failed (PaneReply.failed) is left out: resending a blocked prompt would fail every later turn,
    and an unanswered one would put two user messages in a row.
    """
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    for turn in turns:
        reply = turn.replies.get(pane_id)
        if reply is None or reply.failed:
            continue
        messages.append({"role": "user", "content": turn.prompt})
        if reply.tool_calls:
            # A tool call the playground did not run is described in text, so the next turn stays a valid request.
            calls = ", ".join(f"{c.function.name}({c.function.arguments})" for c in reply.tool_calls)
            messages.append({"role": "assistant", "content": (reply.text + f"\n[tool calls: {calls}]").strip()})
        elif reply.text:
            messages.append({"role": "assistant", "content": reply.text})
    messages.append({"role": "user", "content": prompt})
    return messages


# --- metrics ------------------------------------------------------------------------------------------------------

Better = Literal["lower", "higher"]
METRIC_COLUMNS: dict[str, Better | None] = {
    "TTFT (s)": "lower",
    "Total (s)": "lower",
    "Tokens/s": "higher",
    "Tokens in": None,
    "Tokens out": None,
    "Finish": None,
    "Cost ($)": "lower",
}


@dataclass(frozen=True)
class MetricsRow:
    """One pane's metrics for the last turn or summed over the conversation."""

    pane_id: str
    values: dict[str, float | int | str | None]


def _turn_values(reply: PaneReply | None) -> dict[str, float | int | str | None]:
    values: dict[str, float | int | str | None] = dict.fromkeys(METRIC_COLUMNS)
    if reply is None:
        return values
    metrics = reply.metrics
    if metrics is not None:
        values["TTFT (s)"] = metrics.ttft_s
        values["Total (s)"] = metrics.total_s
        values["Tokens/s"] = metrics.tokens_per_s
        if metrics.usage is not None:
            values["Tokens in"] = metrics.usage.prompt_tokens
            values["Tokens out"] = metrics.usage.completion_tokens
    if reply.status in {"error", "stopped"}:
        values["Finish"] = reply.status
    elif metrics is not None:
        values["Finish"] = metrics.finish_reason
    values["Cost ($)"] = reply.cost
    return values


def last_turn_rows(turns: Sequence[Turn], pane_ids: Sequence[str]) -> list[MetricsRow]:
    """Per pane, the metrics of the last finished turn (empty values for a pane that did not answer)."""
    last = turns[-1] if turns else None
    return [MetricsRow(pid, _turn_values(last.replies.get(pid) if last else None)) for pid in pane_ids]


def conversation_rows(turns: Sequence[Turn], pane_ids: Sequence[str]) -> list[MetricsRow]:
    """Per pane, the metrics summed over the conversation (TTFT is the mean; tokens/s is tokens out over time)."""
    rows = []
    for pid in pane_ids:
        per_turn = [_turn_values(t.replies.get(pid)) for t in turns if t.replies.get(pid) is not None]
        values: dict[str, float | int | str | None] = dict.fromkeys(METRIC_COLUMNS)
        ttfts = [v["TTFT (s)"] for v in per_turn if isinstance(v["TTFT (s)"], float | int)]
        values["TTFT (s)"] = sum(ttfts) / len(ttfts) if ttfts else None
        for column in ("Total (s)", "Tokens in", "Tokens out", "Cost ($)"):
            numbers = [v[column] for v in per_turn if isinstance(v[column], float | int)]
            values[column] = sum(numbers) if numbers else None  # type: ignore[arg-type]
        total, out = values["Total (s)"], values["Tokens out"]
        if isinstance(total, float | int) and isinstance(out, int) and total > 0:
            values["Tokens/s"] = out / total
        finishes = Counter(str(v["Finish"]) for v in per_turn if v["Finish"] is not None)
        values["Finish"] = ", ".join(f"{name}×{n}" for name, n in finishes.most_common()) or None
        rows.append(MetricsRow(pid, values))
    return rows


def best_panes(rows: Sequence[MetricsRow]) -> dict[str, set[str]]:
    """For each column with a direction, the pane ids holding the best value (ties all count; needs two values)."""
    best: dict[str, set[str]] = {}
    for column, better in METRIC_COLUMNS.items():
        if better is None:
            continue
        numbers = {r.pane_id: r.values[column] for r in rows if isinstance(r.values[column], float | int)}
        if len(numbers) < 2:
            continue
        target = min(numbers.values()) if better == "lower" else max(numbers.values())  # type: ignore[type-var]
        best[column] = {pid for pid, value in numbers.items() if value == target}
    return best


# --- blind mode ---------------------------------------------------------------------------------------------------


def blind_labels(pane_ids: Sequence[str], seed: int) -> dict[str, str]:
    """Shuffled "Model A/B/C/D" labels, so neither the order nor the label gives a deployment away."""
    order = list(pane_ids)
    random.Random(seed).shuffle(order)
    return {pid: BLIND_LABELS[i] for i, pid in enumerate(order)}


def vote_tally(turns: Iterable[Turn]) -> Counter[str]:
    """Votes per deployment name, plus TIE and ALL_BAD, over the given turns."""
    tally: Counter[str] = Counter()
    for turn in turns:
        if turn.vote in (TIE, ALL_BAD):
            tally[turn.vote] += 1
        elif turn.vote is not None and turn.vote in turn.replies:
            tally[turn.replies[turn.vote].deployment] += 1
    return tally
