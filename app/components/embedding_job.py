"""Embedding runs in a background thread, so the page stays responsive: progress is polled, Cancel sets an event.

A job embeds the same texts with one or two deployments (the second for comparison) and, when it ends, becomes an
`EmbeddingRun` in the session: the texts, labels and each deployment's `EmbedManyResult`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app import state
from services import projection, tracing
from services.client import InferenceClient
from services.config import Deployment
from services.embeddings import EmbedManyResult, embed_many, retry_missing
from services.store.embeddings import EmbeddingCache

JOB_KEY = "emb_job"
RUN_KEY = "emb_run"
# How often the progress fragment redraws while a job runs: often for a short job (its end shows at once), seldom
# for a long one, where each redraw's ~50-150 ms of server CPU is taken from the endpoint on a shared 2-core machine
# (bench/embeddings_page.py measured 0.32 CPU-s per second at 0.5 s, 0.05 at 5 s).
POLL_S = 0.5
SLOW_POLL_S = 2.0
QUICK_JOB_TEXTS = 1_000
# A job whose browser session has been gone this long is cancelled; a reconnect within it (a network blip) keeps it.
SESSION_GRACE_S = 5.0
SESSION_CHECK_S = 0.5


@st.cache_resource(show_spinner=False)
def shared_cache() -> EmbeddingCache:
    """One SQLite cache under the data directory, shared by every session of this process."""
    return EmbeddingCache()


@dataclass
class Side:
    """One deployment's vectors for the run's texts, and the options they were made with."""

    deployment: Deployment
    result: EmbedManyResult
    params: dict[str, Any]
    model: str | None = None


@dataclass
class EmbeddingRun:
    """Texts embedded by one or two deployments; `sides[0]` is the main one."""

    id: str
    texts: list[str]
    labels: list[str] | None
    sides: list[Side]
    source: str = ""  # where the texts came from (a file name, "pasted text"), for the page to name

    @property
    def live_sides(self) -> list[Side]:
        """Sides that embedded at least one text (a comparison deployment that refused everything is left out)."""
        return [side for side in self.sides if side.result.embedded.any()]

    @property
    def usable(self) -> np.ndarray:
        """Rows embedded by every live side: the ones the plots, search and comparison can use."""
        mask = np.ones(len(self.texts), dtype=bool) if self.live_sides else np.zeros(len(self.texts), dtype=bool)
        for side in self.live_sides:
            mask &= side.result.embedded
        return mask


@dataclass
class EmbedJob:
    """A running (or finished) embedding of `texts` with each deployment in turn."""

    texts: list[str]
    labels: list[str] | None
    deployments: list[Deployment]
    params: dict[str, Any]
    batch_size: int
    concurrency: int
    models: list[str | None] = field(default_factory=list)  # /info model names, for the page to show
    clients: list[InferenceClient] = field(default_factory=list)
    cache: EmbeddingCache | None = None
    previous: EmbeddingRun | None = None  # set for "retry the failed texts"
    cancel: threading.Event = field(default_factory=threading.Event)
    done: int = 0
    total: int = 0
    results: list[EmbedManyResult] = field(default_factory=list)
    error: BaseException | None = None
    started: float = field(default_factory=time.perf_counter)
    thread: threading.Thread | None = None
    source: str = ""
    # Whether the browser session that started the job is still connected (None: not known, e.g. under AppTest).
    session_alive: Callable[[], bool] | None = None
    abandoned: bool = False  # cancelled because its session ended

    @property
    def finished(self) -> bool:
        """The thread has ended (finished, cancelled or failed)."""
        return self.thread is not None and not self.thread.is_alive()

    def _progress(self, offset: int) -> Any:
        def report(done: int, total: int) -> None:
            self.done = offset + done

        return report

    def _work(self) -> None:
        try:
            n = len(self.texts)
            self.total = n * len(self.deployments)
            for number, client in enumerate(self.clients):
                if self.cancel.is_set():
                    break
                options = {
                    "batch_size": self.batch_size,
                    "concurrency": self.concurrency,
                    "on_progress": self._progress(number * n),
                    "cancel": self.cancel,
                    "cache": self.cache,
                    **self.params,
                }
                if self.previous is not None:
                    result = retry_missing(client, self.texts, self.previous.sides[number].result, **options)
                else:
                    result = embed_many(client, self.texts, **options)
                self.results.append(result)
        except BaseException as exc:  # kept for the page to show; a thread has nobody else to tell
            self.error = exc

    def _watch_session(self, alive: Callable[[], bool]) -> None:
        """Cancel the job once its session has been gone for SESSION_GRACE_S (vectors already cached stay cached)."""
        gone_since: float | None = None
        while not self.cancel.wait(SESSION_CHECK_S):
            if self.thread is not None and not self.thread.is_alive():
                return
            if alive():
                gone_since = None
            elif gone_since is None:
                gone_since = time.monotonic()
            elif time.monotonic() - gone_since >= SESSION_GRACE_S:
                self.abandoned = True
                self.cancel.set()

    def start(self) -> None:
        """Run in a daemon thread; clients and cache are resolved here, in the script thread, as st caches need."""
        self.clients = [state.get_client(deployment) for deployment in self.deployments]
        self.cache = shared_cache()
        if self.session_alive is None:
            self.session_alive = session_alive_check()
        with tracing.action("embedding job"):  # every batch of every deployment: one trace
            self.thread = threading.Thread(target=tracing.carry(self._work), name="embeddings-job", daemon=True)
        self.thread.start()
        if self.session_alive is not None:
            watch = threading.Thread(
                target=self._watch_session, args=(self.session_alive,), name="embeddings-job-session", daemon=True
            )
            watch.start()

    def to_run(self) -> EmbeddingRun | None:
        """The finished job as an EmbeddingRun (None when not a single deployment got through).

        Cancelled before the comparison deployment started, a fresh run keeps the main side alone; a retry keeps the
        previous vectors of a side it did not reach.
        """
        results = list(self.results)
        if self.previous is not None:
            results += [side.result for side in self.previous.sides[len(results) :]]
        if not results:
            return None
        models = self.models + [None] * len(results)
        sides = [
            Side(deployment, result, dict(self.params), models[i])
            for i, (deployment, result) in enumerate(zip(self.deployments, results, strict=False))
        ]
        return EmbeddingRun(uuid.uuid4().hex, list(self.texts), self.labels, sides, self.source)


def session_alive_check() -> Callable[[], bool] | None:
    """A thread-safe check that the browser session running this script is still connected (the runtime's session
    registry drops a session when its tab closes); None when no Streamlit server runs the script (AppTest)."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    runtime = Runtime.instance()
    session_id = ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def start_job(job: EmbedJob) -> None:
    """Start a job and remember it in the session; k-means (the map's colours) is imported while the vectors come."""
    job.start()
    projection.preload_clustering()
    st.session_state[JOB_KEY] = job


def current_job() -> EmbedJob | None:
    """The job of this session, running or finished but not yet collected."""
    return st.session_state.get(JOB_KEY)


def current_run() -> EmbeddingRun | None:
    """The last finished run of this session."""
    return st.session_state.get(RUN_KEY)


def clear_run() -> None:
    """Forget the run (new input) and everything derived from it."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith("emb_cache_")]:
        del st.session_state[key]
    st.session_state.pop(RUN_KEY, None)


def collect(job: EmbedJob) -> None:
    """Move a finished job's results into the session as the current run."""
    st.session_state.pop(JOB_KEY, None)
    run = job.to_run()
    if run is not None:
        clear_run()
        st.session_state[RUN_KEY] = run
    if job.error is not None:
        st.session_state["emb_job_error"] = job.error


def take_job_error() -> BaseException | None:
    """An unexpected error from the last job (shown once)."""
    return st.session_state.pop("emb_job_error", None)


def poll_seconds(job: EmbedJob) -> float:
    """How often to redraw the job's progress: POLL_S up to QUICK_JOB_TEXTS texts to send in all, else SLOW_POLL_S."""
    return POLL_S if len(job.texts) * len(job.deployments) <= QUICK_JOB_TEXTS else SLOW_POLL_S


def seconds_left(job: EmbedJob) -> float:
    """The time the job still needs at its rate so far (infinite before anything is done)."""
    elapsed = time.perf_counter() - job.started
    if job.done <= 0 or elapsed <= 0:
        return float("inf")
    return max(job.total - job.done, 0) * elapsed / job.done


def render_progress(job: EmbedJob) -> None:
    """A progress bar with a Cancel button, redrawn every poll_seconds(job); reruns the page when the job ends."""

    interval = poll_seconds(job)

    @st.fragment(run_every=interval)
    def _poll() -> None:
        # A job due to end before the next redraw is waited for here, so its results show when it ends, not up to
        # one interval later.
        if not job.finished and job.thread is not None and seconds_left(job) <= interval:
            job.thread.join(timeout=interval)
        if job.finished:
            st.rerun()
        total = max(job.total, 1)
        elapsed = time.perf_counter() - job.started
        sides = len(job.deployments)
        unit = "texts" if sides == 1 else f"({len(job.texts):,} texts × {sides} deployments)"
        label = f"Embedding… {job.done:,} of {job.total:,} {unit}, {elapsed:.0f} s"
        if job.cancel.is_set():
            label = f"Cancelling… waiting for the batches in flight ({job.done:,} of {job.total:,} done)"
        st.progress(min(job.done / total, 1.0), text=label)
        if st.button("Cancel", key="emb_cancel", disabled=job.cancel.is_set()):
            job.cancel.set()

    _poll()
