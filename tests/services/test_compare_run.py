"""CompareRun against a real slow-streaming server on loopback: concurrency, Stop, and per-pane errors."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from services.client import InferenceClient
from services.compare_run import CompareRun, PaneJob, run_turn
from services.config import Deployment
from services.errors import AuthenticationError, InferenceError

CHUNK_DELAY = 0.05


class SlowServer:
    """Streams `chunks` words per request, CHUNK_DELAY apart; the deployment name in the path picks the behaviour.

    `/slow-<n>/...` streams n chunks; `/auth-fail/...` answers 401; `/drop-<n>/...` breaks the connection after n
    chunks. `cancelled` counts streams the client closed before the end.
    """

    def __init__(self) -> None:
        self.cancelled = 0
        self.completed = 0
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/{deployment}/chat/completions", self.chat, methods=["POST"])])

    async def chat(self, request: Request) -> Response:
        deployment = request.path_params["deployment"]
        self.requests.append({"deployment": deployment, "body": await request.json()})
        kind, _, count = deployment.partition("-")
        if kind == "auth":
            body = {"statusCode": 401, "message": "Auth token validation failed. Please provide a valid key"}
            return JSONResponse(body, status_code=401)
        return StreamingResponse(
            self.events(deployment, int(count), drop=kind == "drop"), media_type="text/event-stream"
        )

    async def events(self, model: str, chunks: int, *, drop: bool) -> AsyncIterator[bytes]:
        base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model}
        try:
            yield self.sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
            for i in range(chunks):
                await asyncio.sleep(CHUNK_DELAY)
                yield self.sse({**base, "choices": [{"index": 0, "delta": {"content": f"w{i} "}}]})
            if drop:
                raise RuntimeError("connection dropped on purpose")
            usage = {"prompt_tokens": 3, "completion_tokens": chunks, "total_tokens": 3 + chunks}
            yield self.sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage})
            yield b"data: [DONE]\n\n"
            self.completed += 1
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise

    @staticmethod
    def sse(payload: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(payload)}\n\n".encode()


@pytest.fixture(scope="module")
def slow_server() -> Iterator[tuple[str, SlowServer]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    state = SlowServer()
    server = uvicorn.Server(uvicorn.Config(state.app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", state
    server.should_exit = True
    thread.join(5)


def job(base: str, pane_id: str, deployment: str, **dep: Any) -> PaneJob:
    d = Deployment(name=deployment, endpoint=f"{base}/{deployment}", max_retries=0, **dep)
    return PaneJob(pane_id, d, InferenceClient(d), [{"role": "user", "content": "hi"}], {"max_tokens": 16})


def test_panes_stream_at_the_same_time_so_a_turn_takes_as_long_as_the_slowest(slow_server):
    base, _ = slow_server
    jobs = [job(base, f"p{i}", f"slow-{n}") for i, n in enumerate((10, 10, 10, 14))]
    start = time.monotonic()
    snaps = run_turn(jobs, timeout=20)
    elapsed = time.monotonic() - start
    assert [s.status for s in snaps.values()] == ["done"] * 4
    slowest = 14 * CHUNK_DELAY
    assert elapsed < slowest + 0.5, f"{elapsed:.2f}s for panes whose slowest takes {slowest:.2f}s: not concurrent"
    # Every pane received updates while every other pane was still receiving: their update windows overlap.
    windows = [(s.updates[0], s.updates[-1]) for s in snaps.values()]
    assert max(first for first, _ in windows) < min(last for _, last in windows)
    assert snaps["p3"].text.split() == [f"w{i}" for i in range(14)]
    assert snaps["p0"].result is not None and snaps["p0"].result.finish_reason == "stop"


def test_stop_closes_every_stream_and_keeps_what_arrived(slow_server):
    base, state = slow_server
    cancelled_before = state.cancelled
    run = CompareRun([job(base, f"p{i}", "slow-200") for i in range(3)]).start()
    deadline = time.monotonic() + 5
    while not all(s.updates for s in run.snapshots().values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    stopped_at = time.monotonic()
    run.stop()
    assert run.wait(timeout=3), "panes still running after Stop"
    assert time.monotonic() - stopped_at < 1.0
    for snap in run.snapshots().values():
        assert snap.status == "stopped"
        assert snap.error is None
        assert 1 <= len(snap.text.split()) < 200
        assert snap.result is not None and snap.result.stopped
    # The server sees its streams cancelled: the connections really closed.
    deadline = time.monotonic() + 3
    while state.cancelled < cancelled_before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.cancelled >= cancelled_before + 3


def test_a_pane_that_sees_stop_before_its_stream_is_closed_still_says_stopped(slow_server):
    """The worker can notice Stop between stop() setting the flag and closing the streams (a race seen in CI)."""
    base, _ = slow_server
    run = CompareRun([job(base, "p0", "slow-200")]).start()
    deadline = time.monotonic() + 5
    while not run.snapshots()["p0"].updates and time.monotonic() < deadline:
        time.sleep(0.02)
    run._stop.set()  # only the flag: the worker, not stop(), must close the stream
    assert run.wait(timeout=3), "the pane kept streaming after the stop flag"
    snap = run.snapshots()["p0"]
    assert snap.status == "stopped"
    assert snap.result is not None and snap.result.stopped
    assert snap.result.finish_reason is None


def test_a_pane_whose_answer_is_complete_is_done_even_if_stop_comes_after(slow_server):
    base, _ = slow_server
    run = CompareRun([job(base, "p0", "slow-2")]).start()
    assert run.wait(timeout=5)
    run.stop()
    snap = run.snapshots()["p0"]
    assert snap.status == "done"
    assert snap.result is not None and not snap.result.stopped


def test_a_failing_pane_gets_its_typed_error_while_the_others_finish(slow_server):
    base, _ = slow_server
    key = SecretStr("sk-compare-test-secret")
    jobs = [job(base, "p0", "slow-6"), job(base, "p1", "auth-fail", key=key), job(base, "p2", "slow-8")]
    snaps = run_turn(jobs, timeout=20)
    assert snaps["p0"].status == "done" and snaps["p2"].status == "done"
    assert snaps["p2"].text.split() == [f"w{i}" for i in range(8)]
    failed = snaps["p1"]
    assert failed.status == "error"
    assert isinstance(failed.error, AuthenticationError)
    assert failed.error.deployment == "auth-fail"
    assert "sk-compare-test-secret" not in str(failed.error)


def test_a_dropped_stream_keeps_its_partial_text_and_reports_the_interruption(slow_server):
    base, _ = slow_server
    snaps = run_turn([job(base, "p0", "drop-4"), job(base, "p1", "slow-4")], timeout=20)
    dropped = snaps["p0"]
    assert dropped.status == "error"
    assert isinstance(dropped.error, InferenceError)
    assert dropped.text.split() == ["w0", "w1", "w2", "w3"]
    assert snaps["p1"].status == "done"


def test_stop_before_any_answer_leaves_every_pane_stopped_with_no_text(slow_server):
    base, _ = slow_server
    run = CompareRun([job(base, "p0", "slow-50"), job(base, "p1", "slow-50")])
    run.start()
    run.stop()
    assert run.wait(timeout=3)
    assert {s.status for s in run.snapshots().values()} == {"stopped"}


def test_a_run_refuses_more_than_four_panes_or_none(slow_server):
    base, _ = slow_server
    with pytest.raises(ValueError, match="at most 4"):
        CompareRun([job(base, f"p{i}", "slow-1") for i in range(5)])
    with pytest.raises(ValueError, match="at least one"):
        CompareRun([])
