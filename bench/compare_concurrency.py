"""Wall time of one compare turn with 1, 2, 3 and 4 panes against a local server that streams slowly.

The panes stream concurrently, so four panes should take about as long as one: target ratio 4-pane/1-pane <= 1.2.
Run: `.venv/bin/python bench/compare_concurrency.py [--chunks 20 --delay 0.05 --repeat 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.client import InferenceClient
from services.compare_run import PaneJob, run_turn
from services.config import Deployment

TARGET = 1.2


def slow_chat_app(chunks: int, delay: float) -> Starlette:
    """An ASGI app whose every chat completion streams `chunks` words, `delay` seconds apart."""

    async def chat(request: Request) -> StreamingResponse:
        deployment = request.path_params["deployment"]

        async def events() -> AsyncIterator[bytes]:
            base = {"id": "bench", "object": "chat.completion.chunk", "created": int(time.time()), "model": deployment}
            first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
            yield f"data: {json.dumps(first)}\n\n".encode()
            for i in range(chunks):
                await asyncio.sleep(delay)
                chunk = {**base, "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            usage = {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": 5 + chunks}
            last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
            yield f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/{deployment}/chat/completions", chat, methods=["POST"])])


def serve(app: Starlette) -> tuple[str, uvicorn.Server]:
    """Start `app` on a free loopback port in a thread; return its base URL and server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server


def time_turn(clients: list[tuple[Deployment, InferenceClient]], panes: int) -> float:
    """Wall time of one turn over the first `panes` deployments."""
    jobs = [
        PaneJob(f"p{i}", dep, client, [{"role": "user", "content": "hi"}], {"max_tokens": 32})
        for i, (dep, client) in enumerate(clients[:panes])
    ]
    start = time.perf_counter()
    snaps = run_turn(jobs, timeout=60)
    elapsed = time.perf_counter() - start
    bad = [s for s in snaps.values() if s.status != "done"]
    if bad:
        raise SystemExit(f"pane failed: {bad[0].pane_id} {bad[0].status} {bad[0].error}")
    return elapsed


def main() -> int:
    """Print the wall time per pane count and the 4-pane/1-pane ratio; exit 1 when over the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    base, server = serve(slow_chat_app(args.chunks, args.delay))
    clients = []
    for i in range(4):
        dep = Deployment(name=f"slow-{i}", endpoint=f"{base}/slow-{i}")
        clients.append((dep, InferenceClient(dep)))
    try:
        time_turn(clients, 4)  # warm the connection pools
        medians: dict[int, float] = {}
        print(f"one turn = {args.chunks} chunks x {args.delay * 1000:.0f} ms; median of {args.repeat} runs")
        for panes in (1, 2, 3, 4):
            medians[panes] = statistics.median(time_turn(clients, panes) for _ in range(args.repeat))
            print(f"{panes} pane(s): {medians[panes]:.3f} s")
        ratio = medians[4] / medians[1]
        verdict = "ok" if ratio <= TARGET else "OVER TARGET"
        print(f"4-pane/1-pane ratio: {ratio:.2f} (target <= {TARGET}) {verdict}")
        return 0 if ratio <= TARGET else 1
    finally:
        for _, client in clients:
            client.close()
        server.should_exit = True


if __name__ == "__main__":
    raise SystemExit(main())
