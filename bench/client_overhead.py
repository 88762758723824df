"""Client overhead: this project's InferenceClient against the official azure-ai-inference SDK, same local server.

Two figures, each a ratio ours / SDK (below 1.0 means ours is faster):
- per-request cost: sequential non-streamed chat completions with a tiny body;
- stream drain: the time to read a 2,000-chunk chat stream to the end.

The server is a small ASGI app under uvicorn in a child process on 127.0.0.1 (a free port), so it does not share the
GIL with the clients. Run: `.venv/bin/python bench/client_overhead.py [--requests N] [--streams N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STREAM_CHUNKS = 2000
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


def _time_per_call(call: Callable[[], Any], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per round (5 rounds, interleaved)")
    parser.add_argument("--streams", type=int, default=3, help="streams drained per round (5 rounds, interleaved)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return
    process, url = _start_server()
    try:
        ours, sdk = _ours(url), _sdk(url)
        assert ours[1]() == STREAM_CHUNKS and sdk[1]() == STREAM_CHUNKS  # both read every chunk (and warm up)
        for _ in range(20):
            ours[0](), sdk[0]()
        rounds: dict[str, list[float]] = {"ours_req": [], "sdk_req": [], "ours_stream": [], "sdk_stream": []}
        # Interleaved rounds, so drift on a shared machine hits both clients alike; medians of rounds reported.
        for _ in range(5):
            rounds["ours_req"].append(_time_per_call(ours[0], args.requests))
            rounds["sdk_req"].append(_time_per_call(sdk[0], args.requests))
            rounds["ours_stream"].append(_time_per_call(ours[1], args.streams))
            rounds["sdk_stream"].append(_time_per_call(sdk[1], args.streams))
        median = {name: statistics.median(values) for name, values in rounds.items()}
    finally:
        process.terminate()
        process.wait(timeout=10)
    request_ratio = median["ours_req"] / median["sdk_req"]
    stream_ratio = median["ours_stream"] / median["sdk_stream"]
    print(f"per-request: ours {median['ours_req'] * 1e3:.3f} ms, azure-ai-inference {median['sdk_req'] * 1e3:.3f} ms")
    print(f"{STREAM_CHUNKS}-chunk stream: ours {median['ours_stream'] * 1e3:.1f} ms, ", end="")
    print(f"azure-ai-inference {median['sdk_stream'] * 1e3:.1f} ms")
    print(f"ratio per-request (ours/sdk): {request_ratio:.2f}")
    print(f"ratio stream drain (ours/sdk): {stream_ratio:.2f}")
    verdict = "met" if request_ratio <= 1.0 and stream_ratio <= 1.0 else "NOT met"
    print(f"target (no slower than the SDK on either figure): {verdict}")


if __name__ == "__main__":
    main()
