"""Every call to a deployment becomes a span, recorded beside the token path and never on it.

A user action (a chat turn, a compare run, an embedding job) opens an `action`: its calls share one trace id. Each
HTTP attempt inside becomes a `SpanRecord` (a retried attempt is its own span). Recording a span only builds that
record and puts it on a queue: a writer thread turns records into rows (masking secrets, reducing images, dropping
message content when `PLAYGROUND_TRACE_CONTENT=false`), writes them to the trace store (services.store.traces) in
batches, and hands them to the OpenTelemetry exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. A span carries the
owner of the signed-in user who caused it (`set_owner`), so the Traces page can show each user their own.

Worker threads do not inherit context variables: wrap what a thread runs in `carry()` so its calls join the action
that started it (its page and owner too).
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from services.store.location import DATA_DIR_ENV, DATABASE_URL_ENV, StoreConfigError, location_from_env, redact_url

log = logging.getLogger(__name__)

TRACE_ENV = "PLAYGROUND_TRACE"  # "off" turns recording off (the benchmarks' baseline)
TRACE_CONTENT_ENV = "PLAYGROUND_TRACE_CONTENT"  # "false": no message text, inputs or answers, only timings/usage
TRACE_IMAGES_ENV = "PLAYGROUND_TRACE_IMAGES"  # "hash" (default): an image as its size and SHA-256; "full": the bytes
RETENTION_DAYS_ENV = "PLAYGROUND_TRACE_RETENTION_DAYS"
MAX_SPANS_ENV = "PLAYGROUND_TRACE_MAX_SPANS"
DEFAULT_RETENTION_DAYS = 30.0
DEFAULT_MAX_SPANS = 200_000
TRACE_FILE = "traces.sqlite"

_FALSE = frozenset({"0", "false", "no", "off"})
# An idle writer thread ends after this long; the next record starts a new one.
_IDLE_S = 5.0
_BATCH = 500
# A batch gathers spans for this long: one transaction for many spans costs about what one span alone costs.
_GATHER_S = 0.2

P = ParamSpec("P")
R = TypeVar("R")


# --- actions: one trace per user action -----------------------------------------------------------------------------


def new_trace_id() -> str:
    """32 hex digits, never all zero (OpenTelemetry's rule)."""
    return f"{random.getrandbits(128) or 1:032x}"


def new_span_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


@dataclass(frozen=True, slots=True)
class Action:
    """What the user did: its trace id, a short name ("chat turn") and the page it was done on."""

    trace_id: str
    name: str
    page: str


_PAGE: contextvars.ContextVar[str] = contextvars.ContextVar("playground_page", default="")
_ACTION: contextvars.ContextVar[Action | None] = contextvars.ContextVar("playground_action", default=None)
_OWNER: contextvars.ContextVar[str | None] = contextvars.ContextVar("playground_owner", default=None)


def set_page(page: str) -> contextvars.Token[str]:
    """Name the page the current script run draws (app/main.py does this once per run)."""
    return _PAGE.set(page)


def set_owner(owner: str | None) -> contextvars.Token[str | None]:
    """Name the signed-in user (services.identity owner id; None with sign-in off) whose calls the current script
    run makes: every span recorded in this context (and in threads started with `carry`) carries it."""
    return _OWNER.set(owner)


def current_owner() -> str | None:
    """The owner set for the current context (None when none was)."""
    return _OWNER.get()


@contextlib.contextmanager
def action(name: str, *, page: str | None = None) -> Iterator[Action]:
    """Calls made inside (and in threads started with `carry`) share one new trace."""
    current = Action(new_trace_id(), name, page if page is not None else _PAGE.get())
    token = _ACTION.set(current)
    try:
        yield current
    finally:
        _ACTION.reset(token)


def current_action(default_name: str) -> Action:
    """The open action, or a one-call action of its own (a call made outside any action is its own trace)."""
    found = _ACTION.get()
    return found if found is not None else Action(new_trace_id(), default_name, _PAGE.get())


def carry(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` running in the context (the action, the page, the owner) of the thread that wrapped it; each run gets
    its own copy, so one wrapper can run in several threads at once."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(fn, *args, **kwargs)

    return run


# --- what one span holds -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class SpanRecord:
    """One HTTP attempt, as the client saw it. Built on the caller's thread with references only (no copies, no
    serialising): `body` and `result` are turned into stored text on the writer thread."""

    trace_id: str
    action: str
    page: str
    operation: str  # chat | text_completion | embeddings | image_embeddings | image_generation | info | models
    deployment: str
    host: str
    api: str
    route: str
    request_model: str | None
    request_id: str
    start_ns: int
    end_ns: int
    attempt: int
    status: str  # ok | error | stopped | retried
    http_status: int | None = None
    body: dict[str, Any] | None = None
    result: Any = None  # ChatResult | EmbeddingsResult | ModelInfo | list[str] | None
    error: Exception | None = None
    retry_wait_s: float | None = None
    ttft_s: float | None = None
    price_in: float | None = None
    price_out: float | None = None
    secrets: tuple[str, ...] = ()
    span_id: str = field(default_factory=new_span_id)
    owner: str | None = field(default_factory=current_owner)  # read on the caller's thread, where it was set


# --- the recorder: a queue and a writer thread -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TraceSettings:
    """What recording does, from the environment (read per call: cheap, and tests change it per test)."""

    location: str  # the trace file's path, or the PostgreSQL URL (which may hold a password: never logged)
    content: bool
    images: str
    retention_days: float
    max_spans: int

    @classmethod
    def from_env(cls) -> TraceSettings | None:
        """None when recording is off."""
        env = os.environ
        if env.get(TRACE_ENV, "").strip().lower() in _FALSE:
            return None
        try:
            found = location_from_env()
        except StoreConfigError as exc:
            log.warning("trace recording is off: %s", exc)
            return None
        location = found.url if found.url is not None else str((found.directory or Path()) / TRACE_FILE)
        return cls(
            location=location,
            content=env.get(TRACE_CONTENT_ENV, "true").strip().lower() not in _FALSE,
            images="full" if env.get(TRACE_IMAGES_ENV, "").strip().lower() == "full" else "hash",
            retention_days=_number(env.get(RETENTION_DAYS_ENV), DEFAULT_RETENTION_DAYS),
            max_spans=int(_number(env.get(MAX_SPANS_ENV), DEFAULT_MAX_SPANS)),
        )


def _number(text: str | None, default: float) -> float:
    try:
        value = float(text) if text not in (None, "") else default
    except ValueError:
        log.warning("ignoring a trace setting that is not a number: %r", text)
        return default
    return value if value > 0 else default


class _Flush:
    """A marker on the queue: set once everything put before it is written."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()


class Recorder:
    """Takes span records from any thread; one writer thread stores and exports them in batches."""

    def __init__(self, settings: TraceSettings) -> None:
        self.settings = settings
        self._queue: queue.SimpleQueue[SpanRecord | _Flush] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._store: Any = None
        self.dropped = 0  # records a failed write lost (the log says why)

    def record(self, span: SpanRecord) -> None:
        self._queue.put(span)
        if self._thread is None:
            self._wake()

    def _wake(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_loop, name="trace-writer", daemon=True)
                self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record put so far is written; False on timeout."""
        marker = _Flush()
        self._queue.put(marker)
        self._wake()
        return marker.event.wait(timeout)

    def store(self) -> Any:
        if self._store is None:
            from services.store.traces import TraceStore  # imported on the writer thread: the page path stays light

            self._store = TraceStore(
                self.settings.location, retention_days=self.settings.retention_days, max_spans=self.settings.max_spans
            )
        return self._store

    def _write_loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=_IDLE_S)
            except queue.Empty:
                with self._lock:
                    idle = self._queue.empty()
                    if idle:
                        self._thread = None
                if idle:
                    # A record put while this thread was leaving may have seen it still running: start another.
                    if not self._queue.empty():
                        self._wake()
                    return
                continue
            self._write(self._gather(first))

    def _gather(self, first: SpanRecord | _Flush) -> list[SpanRecord | _Flush]:
        """The batch that starts with `first`: what arrives within _GATHER_S (one transaction for a compare run's
        panes, not one each), cut short by a flush that someone waits for."""
        batch = [first]
        deadline = time.monotonic() + _GATHER_S
        while len(batch) < _BATCH and not isinstance(batch[-1], _Flush):
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[SpanRecord | _Flush]) -> None:
        from services.trace_rows import span_row

        spans = [item for item in batch if isinstance(item, SpanRecord)]
        rows = []
        for span in spans:
            try:
                rows.append(span_row(span, content=self.settings.content, images=self.settings.images))
            except Exception:  # a span that cannot be turned into a row must not stop the others
                log.exception("could not record a span of %s", span.deployment)
                self.dropped += 1
        if rows:
            try:
                self.store().write(rows)
            except Exception as exc:
                self.dropped += len(rows)
                where = (
                    redact_url(self.settings.location) if "://" in self.settings.location else self.settings.location
                )
                log.warning("trace store %s: %d spans not written: %s", where, len(rows), exc)
            _export(rows)
        for item in batch:
            if isinstance(item, _Flush):
                item.event.set()


def _export(rows: list[dict[str, Any]]) -> None:
    """Hand rows to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces one) is set; never raises."""
    try:
        from services import trace_otlp

        exporter = trace_otlp.exporter_from_env()
        if exporter is not None:
            exporter.export(rows)
    except Exception as exc:  # an exporter problem costs the user nothing but a log line
        log.warning("OTLP export skipped: %s", exc)


_recorders: dict[TraceSettings, Recorder] = {}
_by_environment: dict[tuple[str | None, ...], Recorder | None] = {}
_recorders_lock = threading.Lock()
_SETTING_NAMES = (
    TRACE_ENV,
    TRACE_CONTENT_ENV,
    TRACE_IMAGES_ENV,
    RETENTION_DAYS_ENV,
    MAX_SPANS_ENV,
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
)


def recorder() -> Recorder | None:
    """The recorder for the current settings (None when recording is off); looked up on the raw variables, so a
    call pays a few dictionary reads, not a settings parse."""
    env = os.environ
    key = tuple(env.get(name) for name in _SETTING_NAMES)
    try:
        return _by_environment[key]
    except KeyError:
        pass
    settings = TraceSettings.from_env()
    found = None
    if settings is not None:
        with _recorders_lock:
            found = _recorders.setdefault(settings, Recorder(settings))
    _by_environment[key] = found
    return found


def record(span: SpanRecord) -> None:
    """Queue one span (the only cost on the caller's thread)."""
    target = recorder()
    if target is not None:
        target.record(span)


def flush(timeout: float = 10.0) -> bool:
    """Write everything recorded so far, by every recorder of this process."""
    return all(found.flush(timeout) for found in list(_recorders.values()))


def now_ns() -> int:
    return time.time_ns()


@atexit.register
def _flush_at_exit() -> None:
    with contextlib.suppress(Exception):
        flush(timeout=5.0)
