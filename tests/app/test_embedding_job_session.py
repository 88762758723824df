"""An embedding job stops when the browser session that started it has gone (its vectors so far stay cached), and
runs to the end while the session is there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.components import embedding_job as jobs
from services.config import Deployment
from services.store.embeddings import cache_namespace
from tests.services.test_embeddings_server import ToyServer, run_toy_server

TEXTS = [f"text number {i} about subject {i % 5}" for i in range(40)]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    jobs.shared_cache.clear()
    monkeypatch.setattr(jobs, "SESSION_GRACE_S", 0.6)
    monkeypatch.setattr(jobs, "SESSION_CHECK_S", 0.1)


@pytest.fixture
def toy() -> Iterator[ToyServer]:
    with run_toy_server(dims=16, delay_s=0.1) as server:
        yield server


def _job(toy: ToyServer, alive: threading.Event) -> jobs.EmbedJob:
    deployment = Deployment(name="toy-bow", endpoint=f"{toy.url}/toy-bow", max_retries=0)
    return jobs.EmbedJob(
        texts=TEXTS,
        labels=None,
        deployments=[deployment],
        params={},
        batch_size=1,
        concurrency=1,
        session_alive=alive.is_set,
    )


def test_a_job_whose_session_has_gone_stops_and_keeps_its_cached_vectors(toy: ToyServer) -> None:
    alive = threading.Event()
    alive.set()
    job = _job(toy, alive)
    job.start()
    while job.done < 3:
        assert job.thread is not None and job.thread.is_alive()
        threading.Event().wait(0.05)
    alive.clear()  # the tab is closed
    assert job.thread is not None
    job.thread.join(timeout=30)
    assert not job.thread.is_alive()
    sent = toy.state.requests
    threading.Event().wait(0.5)
    assert toy.state.requests == sent < len(TEXTS)  # nothing more is sent
    assert job.abandoned and job.cancel.is_set()
    result = job.results[0]
    assert result.cancelled and 3 <= int(result.embedded.sum()) < len(TEXTS)
    cache = jobs.shared_cache()
    assert cache.count(cache_namespace(job.deployments[0], {})) == int(result.embedded.sum())


def test_a_session_back_within_the_grace_time_keeps_its_job_running(toy: ToyServer) -> None:
    alive = threading.Event()
    alive.set()
    job = _job(toy, alive)
    job.texts = TEXTS[:12]
    job.start()
    while job.done < 2:
        threading.Event().wait(0.05)
    alive.clear()  # a network blip: gone for less than the grace time
    threading.Event().wait(0.3)
    alive.set()
    assert job.thread is not None
    job.thread.join(timeout=30)
    assert not job.abandoned and not job.cancel.is_set()
    assert job.results[0].complete and toy.state.requests == 12


def test_progress_is_redrawn_often_for_a_short_job_and_seldom_for_a_long_one(toy: ToyServer) -> None:
    job = _job(toy, threading.Event())
    assert jobs.poll_seconds(job) == jobs.POLL_S  # 40 texts: the end shows at once
    job.texts = [f"text {i}" for i in range(jobs.QUICK_JOB_TEXTS)]
    assert jobs.poll_seconds(job) == jobs.POLL_S
    job.deployments = job.deployments * 2  # twice the texts to send
    assert jobs.poll_seconds(job) == jobs.SLOW_POLL_S > jobs.POLL_S


def test_seconds_left_follow_the_rate_so_far(toy: ToyServer) -> None:
    job = _job(toy, threading.Event())
    job.total = 100
    assert jobs.seconds_left(job) == float("inf")  # nothing done yet: no rate
    job.started -= 10.0
    job.done = 50
    assert 9.5 <= jobs.seconds_left(job) <= 10.5  # half done in 10 s
    job.done = 100
    assert jobs.seconds_left(job) == 0
