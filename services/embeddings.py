"""`embed_many`: embed thousands of texts in parallel batches, with a cache, retries, progress and cancellation.

Batches go through the synchronous `InferenceClient` from a thread pool (its httpx.Client is thread-safe). A batch
that still fails after its retries is reported with its indices; every row that did succeed is kept, so a retry
only has to send what is missing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from services import tracing
from services.config import Deployment
from services.errors import (
    AuthenticationError,
    InferenceError,
    InvalidRequestError,
    MalformedResponseError,
    ModalityNotSupportedError,
    UnsupportedParameterError,
)
from services.schemas import EmbeddingsResult
from services.store.embeddings import EmbeddingCache, cache_namespace

ProgressCallback = Callable[[int, int], None]
# These say something about the deployment or the options, not the batch: retrying other batches cannot help.
FATAL_ERRORS: tuple[type[InferenceError], ...] = (
    AuthenticationError,
    ModalityNotSupportedError,
    UnsupportedParameterError,
)


class EmbeddingClient(Protocol):
    """What embed_many needs from a client: `InferenceClient` satisfies it."""

    deployment: Deployment

    def embed(self, texts: list[str], **params: Any) -> EmbeddingsResult: ...


@dataclass(frozen=True)
class BatchFailure:
    """Texts (by input index) that could not be embedded, and the error that stopped them."""

    indices: tuple[int, ...]
    error: Exception

    @property
    def message(self) -> str:
        """One human line for the page."""
        return str(self.error)


@dataclass
class EmbedManyResult:
    """Vectors in input order; rows that were not embedded are NaN and False in `embedded`."""

    vectors: NDArray[np.float32]
    embedded: NDArray[np.bool_]
    failures: list[BatchFailure] = field(default_factory=list)
    cancelled: bool = False
    fatal: InferenceError | None = None
    from_cache: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        return self.vectors if dtype is None else self.vectors.astype(dtype)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def complete(self) -> bool:
        """Every text has a vector."""
        return bool(self.embedded.all())

    @property
    def failed_indices(self) -> list[int]:
        """Indices of texts whose batch failed (not those skipped by a cancel)."""
        return sorted({i for failure in self.failures for i in failure.indices})

    @property
    def missing_indices(self) -> list[int]:
        """Indices of every text without a vector: failed or not reached before a cancel."""
        return np.flatnonzero(~self.embedded).tolist()

    @property
    def dims(self) -> int:
        """Vector size (0 when nothing was embedded)."""
        return int(self.vectors.shape[1])


@dataclass
class _Task:
    indices: list[int]  # positions in the list of unique texts to send
    attempt: int = 0


def embed_many(
    client: EmbeddingClient,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    concurrency: int = 4,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    cache: EmbeddingCache | None = None,
    retries: int = 2,
    retry_delay: float = 0.5,
    **params: Any,
) -> EmbedManyResult:
    """Embed `texts` in input order with batches of `batch_size` sent `concurrency` at a time.

    `params` (input_type, dimensions, encoding_format, ...) go to `client.embed`. Vectors found in `cache` are not
    sent again, and new ones are stored in it. A batch that fails is retried `retries` times; a batch rejected as an
    invalid request is split in halves until the texts at fault are isolated. An authentication, unsupported route or
    unsupported parameter error stops the run (`result.fatal`). Setting `cancel` stops sending new batches; what
    has arrived is kept. `on_progress(done, total)` is called from the calling thread.
    """
    if batch_size < 1 or concurrency < 1:
        raise ValueError("batch_size and concurrency must be at least 1")
    started = time.perf_counter()
    texts = list(texts)
    total = len(texts)
    params = {name: value for name, value in params.items() if value is not None}
    namespace = cache_namespace(client.deployment, params)
    found: dict[int, NDArray[np.float32]] = cache.get_many(namespace, texts) if cache is not None else {}

    # Identical texts are sent once; `owners` maps each unique text back to every input position holding it.
    owners: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        if i not in found:
            owners.setdefault(text, []).append(i)
    unique = list(owners)
    state = _Run(total=total, done=len(found), on_progress=on_progress)
    state.report()

    tasks = [
        _Task(list(range(start, min(start + batch_size, len(unique))))) for start in range(0, len(unique), batch_size)
    ]
    stop = cancel if cancel is not None else threading.Event()
    failures: list[BatchFailure] = []
    fatal: InferenceError | None = None
    vectors_by_unique: dict[int, NDArray[np.float32]] = {}
    dims: int | None = next((v.shape[0] for v in found.values()), None)

    def send(task: _Task) -> EmbeddingsResult:
        if task.attempt > 0 and stop.wait(retry_delay * 2 ** (task.attempt - 1)):
            raise _Cancelled
        return client.embed([unique[u] for u in task.indices], **params)

    traced_send = tracing.carry(send)  # the batches belong to the caller's action (one trace per job)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="embed") as pool:
        running: dict[Future[EmbeddingsResult], _Task] = {}
        queue = list(reversed(tasks))  # popped from the end: first batches first

        def fill() -> None:
            while queue and len(running) < concurrency and not stop.is_set() and fatal is None:
                task = queue.pop()
                running[pool.submit(traced_send, task)] = task

        fill()
        while running:
            done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                positions = [i for u in task.indices for i in owners[unique[u]]]
                if not isinstance(future.exception(), _Cancelled):  # a retry cancelled while waiting sent nothing
                    state.requests += 1
                try:
                    answer = future.result()
                    rows = _checked_rows(answer, len(task.indices), dims, client.deployment.name)
                except _Cancelled:
                    continue
                except Exception as exc:
                    if isinstance(exc, FATAL_ERRORS):
                        fatal = fatal or exc
                        failures.append(BatchFailure(tuple(positions), exc))
                        state.advance(len(positions))
                    elif _splittable(exc) and len(task.indices) > 1:
                        half = len(task.indices) // 2
                        queue.extend([_Task(task.indices[half:]), _Task(task.indices[:half])])
                    elif task.attempt < retries and not isinstance(exc, InvalidRequestError):
                        queue.append(_Task(task.indices, task.attempt + 1))
                    else:
                        failures.append(BatchFailure(tuple(positions), exc))
                        state.advance(len(positions))
                    continue
                dims = rows.shape[1]
                for u, row in zip(task.indices, rows, strict=True):
                    vectors_by_unique[u] = row
                if cache is not None:
                    cache.put_many(namespace, [unique[u] for u in task.indices], rows)
                state.prompt_tokens += answer.usage.prompt_tokens if answer.usage is not None else 0
                state.advance(len(positions))
            fill()

    out = np.full((total, dims or 0), np.nan, dtype=np.float32)
    embedded = np.zeros(total, dtype=bool)
    for i, vector in found.items():
        out[i], embedded[i] = vector, True
    for u, vector in vectors_by_unique.items():
        for i in owners[unique[u]]:
            out[i], embedded[i] = vector, True
    if fatal is not None:  # batches never sent count as failed for the same reason
        reported = {i for failure in failures for i in failure.indices}
        rest = tuple(i for i in np.flatnonzero(~embedded).tolist() if i not in reported)
        if rest:
            failures.append(BatchFailure(rest, fatal))
    return EmbedManyResult(
        vectors=out,
        embedded=embedded,
        failures=failures,
        cancelled=stop.is_set() and cancel is not None and not embedded.all(),
        fatal=fatal,
        from_cache=len(found),
        requests=state.requests,
        prompt_tokens=state.prompt_tokens,
        seconds=time.perf_counter() - started,
    )


def retry_missing(
    client: EmbeddingClient, texts: Sequence[str], previous: EmbedManyResult, **kwargs: Any
) -> EmbedManyResult:
    """Embed only the texts `previous` has no vector for and merge them in; other arguments as for embed_many."""
    missing = previous.missing_indices
    if not missing:
        return previous
    fresh = embed_many(client, [texts[i] for i in missing], **kwargs)
    if previous.dims and fresh.dims and previous.dims != fresh.dims:
        raise ValueError(f"the retry returned {fresh.dims} dimensions, the first run {previous.dims}")
    dims = previous.dims or fresh.dims
    vectors = previous.vectors if previous.dims else np.full((len(previous), dims), np.nan, dtype=np.float32)
    vectors = vectors.copy()
    embedded = previous.embedded.copy()
    index = np.asarray(missing)
    if fresh.dims:
        vectors[index[fresh.embedded]] = fresh.vectors[fresh.embedded]
    embedded[index[fresh.embedded]] = True
    failures = [BatchFailure(tuple(missing[i] for i in f.indices), f.error) for f in fresh.failures]
    return EmbedManyResult(
        vectors=vectors,
        embedded=embedded,
        failures=failures,
        cancelled=fresh.cancelled,
        fatal=fresh.fatal,
        from_cache=previous.from_cache + fresh.from_cache,
        requests=previous.requests + fresh.requests,
        prompt_tokens=previous.prompt_tokens + fresh.prompt_tokens,
        seconds=previous.seconds + fresh.seconds,
    )


class _Cancelled(Exception):
    """A retry's wait was cut short by cancel."""


@dataclass
class _Run:
    total: int
    done: int
    on_progress: ProgressCallback | None
    requests: int = 0
    prompt_tokens: int = 0

    def advance(self, count: int) -> None:
        self.done += count
        self.report()

    def report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)


def _splittable(exc: Exception) -> bool:
    """A 4xx about the content (a too-long or filtered text), which halving the batch can pin to single texts."""
    return isinstance(exc, InvalidRequestError) and not isinstance(exc, FATAL_ERRORS)


def _checked_rows(answer: EmbeddingsResult, expected: int, dims: int | None, deployment: str) -> NDArray[np.float32]:
    rows = np.asarray(answer.vectors, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[0] != expected:
        raise MalformedResponseError(f"asked for {expected} embeddings, got {rows.shape[0]}", deployment=deployment)
    if dims is not None and rows.shape[1] != dims:
        raise MalformedResponseError(f"vectors of {rows.shape[1]} dimensions after {dims}", deployment=deployment)
    if not np.isfinite(rows).all():
        raise MalformedResponseError("the vectors contain NaN or infinite values", deployment=deployment)
    return rows
