"""Client overhead: this project's InferenceClient against the official azure-ai-inference SDK, same local server.

Two figures, each a ratio ours / SDK in wall time (below 1.0 means ours is faster), with span recording ON (the
default; the spans go to a temporary PLAYGROUND_DATA_DIR):
- per-request cost: sequential non-streamed chat completions with a tiny body (goal <= 0.55x; raw httpx, the floor
  any httpx-based client has, is printed beside it);
- stream drain: the time to read a 2,000-chunk chat stream to the end (goal <= 1.0x).

The server is a small ASGI app under uvicorn in a child process on 127.0.0.1 (a free port), so it does not share the
GIL with the clients. Rounds of the clients are interleaved; the medians of the rounds are compared. Our spans are
written while our calls run (the trace writer shares the process); each of our rounds ends by waiting for the writer,
outside the clock, so its leftovers do not slow the next client's round.
Run: `.venv/bin/python bench/client_overhead.py [--requests N] [--streams N] [--rounds N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STREAM_CHUNKS = 2000
GOAL_REQUEST = 0.55
GOAL_STREAM = 1.0
_COMPLETION = json.dumps(
    {
        "id": "bench",
        "object": "chat.completion",
        "created": 0,
        "model": "bench",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello!"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
).encode()


def _stream_events() -> list[bytes]:
    events = [b'data: {"id":"b","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n']
    for index in range(STREAM_CHUNKS):
        chunk = {
            "id": "b",
            "created": 0,
            "model": "bench",
            "choices": [{"index": 0, "delta": {"content": f"t{index} "}}],
        }
        events.append(f"data: {json.dumps(chunk)}\n\n".encode())
    last = {
        "id": "b",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": STREAM_CHUNKS, "total_tokens": STREAM_CHUNKS + 5},
    }
    events += [f"data: {json.dumps(last)}\n\n".encode(), b"data: [DONE]\n\n"]
    return events


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers /chat/completions: a fixed completion, or a 2,000-chunk stream (one body message per event)."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    streaming = b'"stream": true' in body or b'"stream":true' in body
    kind = b"text/event-stream" if streaming else b"application/json"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
    if not streaming:
        await send({"type": "http.response.body", "body": _COMPLETION})
        return
    for event in _EVENTS:
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


_EVENTS = _stream_events()


def _serve(port: int) -> None:
    import uvicorn

    uvicorn.run(_app, host="127.0.0.1", port=port, log_level="error", access_log=False, lifespan="off")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(f"{url}/chat/completions", json={}, timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("bench server did not start")


def _ours(url: str) -> tuple[Callable[[], None], Callable[[], int]]:
    from services.client import InferenceClient
    from services.config import Deployment

    client = InferenceClient(Deployment(name="bench", endpoint=url, key="bench-key", max_retries=0))
    messages = [{"role": "user", "content": "hi"}]

    def request() -> None:
        assert client.chat(messages, max_tokens=8).content == "Hello!"

    def drain() -> int:
        with client.stream_chat(messages) as stream:
            return sum(1 for delta in stream if delta.content)

    return request, drain


def _sdk(url: str) -> tuple[Callable[[], None], Callable[[], int]]:
    from azure.ai.inference import ChatCompletionsClient
    from azure.ai.inference.models import UserMessage
    from azure.core.credentials import AzureKeyCredential

    client = ChatCompletionsClient(endpoint=url, credential=AzureKeyCredential("bench-key"))
    messages = [UserMessage(content="hi")]

    def request() -> None:
        assert client.complete(messages=messages, max_tokens=8).choices[0].message.content == "Hello!"

    def drain() -> int:
        stream = client.complete(messages=messages, stream=True)
        try:
            return sum(1 for update in stream if update.choices and update.choices[0].delta.content)
        finally:
            stream.close()

    return request, drain


def _raw(url: str) -> Callable[[], None]:
    """Plain httpx: one pooled client, the same request and the JSON parsed (the floor for an httpx-based client)."""
    client = httpx.Client(timeout=30)
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    headers = {"api-key": "bench-key", "authorization": "Bearer bench-key"}

    def request() -> None:
        answer = client.post(f"{url}/chat/completions", json=body, headers=headers).json()
        assert answer["choices"][0]["message"]["content"] == "Hello!"

    return request


_CPU: dict[str, list[float]] = {}  # CPU seconds of this process per call, per figure (see _time_per_call)


def _time_per_call(call: Callable[[], Any], count: int, *, ours: bool = False, label: str = "") -> float:
    """Wall seconds per call; the CPU this process spent per call (every thread, our trace writer's included, up to
    the flush) goes to _CPU[label]: a figure a busy shared machine disturbs far less than wall time."""
    cpu = time.process_time()
    started = time.perf_counter()
    for _ in range(count):
        call()
    elapsed = (time.perf_counter() - started) / count
    if ours:
        from services import tracing

        tracing.flush(timeout=60)  # outside the clock: the next client's round starts with an idle trace writer
    if label:
        _CPU.setdefault(label, []).append((time.process_time() - cpu) / count)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per round")
    parser.add_argument("--streams", type=int, default=3, help="streams drained per round")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per client")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return
    data = tempfile.TemporaryDirectory()
    os.environ["PLAYGROUND_DATA_DIR"] = data.name
    os.environ.pop("PLAYGROUND_TRACE", None)  # recording on, as in the app
    process, url = _start_server()
    try:
        ours, sdk, raw = _ours(url), _sdk(url), _raw(url)
        assert ours[1]() == STREAM_CHUNKS and sdk[1]() == STREAM_CHUNKS  # both read every chunk (and warm up)
        for _ in range(20):
            ours[0](), sdk[0](), raw()
        rounds: dict[str, list[float]] = {}
        # Interleaved rounds, so drift on a shared machine hits every client alike; medians of rounds reported.
        for index in range(args.rounds):
            order = [("ours", True), ("sdk", False)] if index % 2 == 0 else [("sdk", False), ("ours", True)]
            for name, mine in order:
                client = ours if mine else sdk
                for figure, call, count in (("req", client[0], args.requests), ("stream", client[1], args.streams)):
                    label = f"{name}_{figure}"
                    rounds.setdefault(label, []).append(_time_per_call(call, count, ours=mine, label=label))
            rounds.setdefault("raw_req", []).append(_time_per_call(raw, args.requests, label="raw_req"))
            os.environ["PLAYGROUND_TRACE"] = "off"  # for reference only: what the recording adds to our figure
            rounds.setdefault("off_req", []).append(_time_per_call(ours[0], args.requests, label="off_req"))
            os.environ.pop("PLAYGROUND_TRACE")
        median = {name: statistics.median(values) for name, values in rounds.items()}
        from services import tracing
        from services.store.traces import TraceStore

        tracing.flush(timeout=60)
        recorded = TraceStore(os.path.join(data.name, tracing.TRACE_FILE)).count()
    finally:
        process.terminate()
        process.wait(timeout=10)
        data.cleanup()
    expected = 1 + 20 + args.rounds * (args.requests + args.streams)
    assert recorded == expected, f"{recorded} spans recorded, {expected} expected: recording must be on"
    request_ratio = median["ours_req"] / median["sdk_req"]
    raw_ratio = median["raw_req"] / median["sdk_req"]
    stream_ratio = median["ours_stream"] / median["sdk_stream"]
    print(f"recording on: {recorded} spans written, one per call")
    print(
        f"per-request: ours {median['ours_req'] * 1e3:.3f} ms, azure-ai-inference {median['sdk_req'] * 1e3:.3f} ms, "
        f"raw httpx {median['raw_req'] * 1e3:.3f} ms"
    )
    off_ratio = median["off_req"] / median["sdk_req"]
    print(f"  (for reference, ours with recording off: {median['off_req'] * 1e3:.3f} ms, {off_ratio:.2f}x the SDK)")
    print(f"{STREAM_CHUNKS}-chunk stream: ours {median['ours_stream'] * 1e3:.1f} ms, ", end="")
    print(f"azure-ai-inference {median['sdk_stream'] * 1e3:.1f} ms")
    print(f"ratio per-request (ours/sdk): {request_ratio:.2f} (goal <= {GOAL_REQUEST}; raw httpx/sdk {raw_ratio:.2f})")
    print(f"ratio stream drain (ours/sdk): {stream_ratio:.2f} (goal <= {GOAL_STREAM})")
    cpu = {name: statistics.median(values) for name, values in _CPU.items()}
    print("CPU of this process per call (all threads, the trace writer's included):")
    print(
        f"  non-streamed: ours {cpu['ours_req'] * 1e3:.3f} ms (recording off {cpu['off_req'] * 1e3:.3f}), "
        f"SDK {cpu['sdk_req'] * 1e3:.3f} ms, raw httpx {cpu['raw_req'] * 1e3:.3f} ms: "
        f"{cpu['ours_req'] / cpu['sdk_req']:.2f}x the SDK"
    )
    print(
        f"  stream: ours {cpu['ours_stream'] * 1e3:.1f} ms, SDK {cpu['sdk_stream'] * 1e3:.1f} ms: "
        f"{cpu['ours_stream'] / cpu['sdk_stream']:.2f}x the SDK"
    )
    met = request_ratio <= GOAL_REQUEST and stream_ratio <= GOAL_STREAM
    print(f"goals (non-streamed <= {GOAL_REQUEST}x, stream <= {GOAL_STREAM}x the SDK): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
