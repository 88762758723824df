"""Coalesce text-embeddings requests that wait for the same model into one length-sorted run (the lever
text-embeddings-inference uses), keeping each request's vectors, order, token count and failure its own.

Each request still queues on its deployment's `ModelSlot` (so a full queue is a 429 with Retry-After, and a client
that leaves while waiting frees its place). The request that gets the model takes the other queued requests with it,
up to `MAX_BATCH_TOKENS`, and their texts run together in batches of similar length; the requests it took leave the
queue at once, so new ones may join while the run goes on.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any

from local_endpoint.slots import ModelSlot, Turn
from local_endpoint.text_embedder import Embedded, TextEmbedder

# Tokens a run may gather from other queued requests: bounds how long the first of them waits for the rest.
MAX_BATCH_TOKENS = 16384


@dataclass(frozen=True)
class RunInfo:
    """What the server formed for a run: requests and texts coalesced, and the rows of each ONNX call."""

    requests: int
    texts: int
    rows: tuple[int, ...]

    def header(self) -> str:
        """The `x-embedding-batch` header value, e.g. `requests=2; texts=128; onnx_calls=9; max_rows=21`."""
        return (
            f"requests={self.requests}; texts={self.texts}; onnx_calls={len(self.rows)}; "
            f"max_rows={max(self.rows, default=0)}"
        )


@dataclass(frozen=True)
class Embeddings:
    """One request's share of a run: its vectors in its own order and its own token count."""

    vectors: Any
    tokens: int
    run: RunInfo


@dataclass(eq=False)
class _Job:
    encodings: list[Any]
    turn: asyncio.Task[Turn]
    done: asyncio.Future[Embeddings] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    claimed: bool = False

    @property
    def tokens(self) -> int:
        return sum(len(e.ids) for e in self.encodings)


class EmbedBatcher:
    """Runs the queued requests of one text-embedding slot together."""

    def __init__(self, slot: ModelSlot[TextEmbedder], max_batch_tokens: int = MAX_BATCH_TOKENS) -> None:
        self._slot = slot
        self._max_tokens = max_batch_tokens
        self._queued: list[_Job] = []

    async def embed(self, encodings: list[Any]) -> Embeddings:
        """Vectors for one request's encodings; QueueFull (429) or the model's 503 as `take_turn` raises them."""
        job = _Job(encodings, asyncio.ensure_future(self._slot.take_turn()))
        try:
            # One step lets take_turn refuse a full queue or join it before a running request may take this job.
            await asyncio.sleep(0)
            if not job.turn.done():
                self._queued.append(job)
            while not job.claimed:
                await asyncio.wait({job.turn, job.done}, return_when=asyncio.FIRST_COMPLETED)
                if not job.claimed:
                    self._lead(job.turn.result(), job)
            # Shielded: a client that leaves must not cancel the result its batch-mates' run will still set.
            return await asyncio.shield(job.done)
        finally:
            self._forget(job)

    def _lead(self, turn: Turn, job: _Job) -> None:
        """Take the other queued requests (oldest first, within the token budget) and run them all with `turn`."""
        batch, tokens = [job], job.tokens
        job.claimed = True
        for other in list(self._queued):
            if other is job or other.turn.done():
                continue
            if tokens + other.tokens > self._max_tokens:
                break
            other.claimed = True
            # It no longer waits for the model: its place in the queue goes to the next request.
            other.turn.cancel()
            self._queued.remove(other)
            batch.append(other)
            tokens += other.tokens
        if job in self._queued:
            self._queued.remove(job)
        future = self._slot.run(turn, _embed_jobs, [j.encodings for j in batch])
        future.add_done_callback(lambda f: _deliver(f, batch))

    def _forget(self, job: _Job) -> None:
        if job in self._queued:
            self._queued.remove(job)
        if not job.turn.done():
            job.turn.cancel()
        # A turn that was granted but not used (the result came first) goes back to the slot.
        job.turn.add_done_callback(_release_unused)
        # The outcome of a request whose client left is read here, so a failure is not logged as never retrieved.
        job.done.add_done_callback(lambda f: f.cancelled() or f.exception())


def _release_unused(task: asyncio.Task[Turn]) -> None:
    if not task.cancelled() and task.exception() is None:
        task.result().release_unless_handed_over()


def _embed_jobs(model: TextEmbedder, jobs: list[list[Any]]) -> list[Embeddings | Exception]:
    """On the model's thread: one run over every job's texts, split back per job; if the run fails, each job runs
    alone so that only the one that fails gets its error."""
    try:
        done = model.run([e for encodings in jobs for e in encodings])
    except Exception:
        return [_alone(model, encodings) for encodings in jobs]
    info = RunInfo(len(jobs), len(done.vectors), tuple(rows for rows, _ in done.shapes))
    out: list[Embeddings | Exception] = []
    start = 0
    for encodings in jobs:
        end = start + len(encodings)
        out.append(Embeddings(done.vectors[start:end], sum(len(e.ids) for e in encodings), info))
        start = end
    return out


def _alone(model: TextEmbedder, encodings: list[Any]) -> Embeddings | Exception:
    try:
        done: Embedded = model.run(encodings)
    except Exception as exc:
        return exc
    return Embeddings(done.vectors, done.tokens, RunInfo(1, len(encodings), tuple(r for r, _ in done.shapes)))


def _deliver(future: asyncio.Future[list[Embeddings | Exception]], batch: list[_Job]) -> None:
    failure = None if future.cancelled() else future.exception()
    for i, job in enumerate(batch):
        if job.done.done():
            continue
        if future.cancelled():  # the worker was shut down
            job.done.cancel()
            continue
        outcome = failure if failure is not None else future.result()[i]
        if isinstance(outcome, BaseException):
            job.done.set_exception(outcome)
        else:
            job.done.set_result(outcome)


_batchers: weakref.WeakKeyDictionary[ModelSlot[Any], EmbedBatcher] = weakref.WeakKeyDictionary()


def batcher_for(slot: ModelSlot[TextEmbedder]) -> EmbedBatcher:
    """The one batcher of `slot` (created on first use)."""
    found = _batchers.get(slot)
    if found is None:
        found = _batchers[slot] = EmbedBatcher(slot)
    return found
