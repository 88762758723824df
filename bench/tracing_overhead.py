"""What recording a span costs a chat call: the same calls with recording on and off (`PLAYGROUND_TRACE=off`), one run.

Calls go to a fast local OpenAI-style server (a child process on 127.0.0.1, so it does not share the GIL and model
time does not hide the client's cost). The prompts are conversations of mixed length (a system prompt, 0-3 earlier
turns, questions from a line to a pasted page); the answers are 20 to 1,500 tokens, one token per stream chunk. Rounds
of ten calls are timed with recording on and off back to back, the order alternating; each pair gives a ratio and
the median ratio is printed. Two figures per kind:
- as the caller sees it: the calls alone (the trace writer works beside them, on its own thread, in the same process,
  so what it costs the caller through the GIL and the CPU is in the figure);
- all recording work included: each round ends with `tracing.flush()`, so every span of the round is written to the
  SQLite store before the clock stops (an upper bound: in the app the writes happen while the user reads).
Goal: a streamed call costs at most 1.05x with recording on (as the caller sees it). The store lives in a temporary
PLAYGROUND_DATA_DIR. Run: `.venv/bin/python bench/tracing_overhead.py [--calls 40 --slice 10 --repeat 5]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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

GOAL_STREAM = 1.05
_VOCABULARY = (
    "the of model answer token latency deployment prompt request stream and retry error budget region quota to "
    "customer invoice summary translate python function class database index query table column in contract "
    "clause liability warranty shipping order refund policy weather forecast recipe is energy battery solar grid "
    "market price inflation portfolio risk patient symptom diagnosis kernel tensor gradient layer attention vector"
)
WORDS = _VOCABULARY.split()
EVENTS_PER_SEND = 16  # the server writes a few events at a time, as a busy real one coalesces them


def _tokens(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [(" " if index else "") + rng.choice(WORDS) + ("." if rng.random() < 0.07 else "") for index in range(count)]


def _chunk(content: str | None, finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    chunk: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _answer(body: dict[str, Any]) -> tuple[list[bytes], bytes]:
    """(stream events, completion body) for a request: the answer has `max_tokens` tokens (seeded by it)."""
    count = int(body.get("max_tokens") or 20)
    tokens = _tokens(count, count)
    usage = {"prompt_tokens": len(json.dumps(body.get("messages"))) // 4, "completion_tokens": count}
    usage["total_tokens"] = usage["prompt_tokens"] + count
    events = [_chunk("")] + [_chunk(token) for token in tokens]
    events += [_chunk(None, "stop", usage), b"data: [DONE]\n\n"]
    completion = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "".join(tokens)}}
        ],
        "usage": usage,
    }
    return events, json.dumps(completion).encode()


_CACHE: dict[int, tuple[list[bytes], bytes]] = {}


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    raw = b""
    while True:
        message = await receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            break
    body = json.loads(raw or b"{}")
    key = int(body.get("max_tokens") or 20)
    if key not in _CACHE:
        _CACHE[key] = _answer(body)
    events, completion = _CACHE[key]
    streaming = bool(body.get("stream"))
    kind = b"text/event-stream" if streaming else b"application/json"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
    if not streaming:
        await send({"type": "http.response.body", "body": completion})
        return
    for start in range(0, len(events), EVENTS_PER_SEND):
        piece = b"".join(events[start : start + EVENTS_PER_SEND])
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _serve(port: int) -> None:
    import uvicorn

    uvicorn.run(_app, host="127.0.0.1", port=port, log_level="error", access_log=False, lifespan="off")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
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


Work = list[tuple[list[dict[str, str]], int]]  # (messages, answer tokens) per call


def _workload(calls: int, seed: int = 7) -> Work:
    """`calls` (messages, answer tokens) pairs: conversations of mixed length, answers of 20-1,500 tokens."""
    rng = random.Random(seed)

    def text(low: int, high: int) -> str:
        return "".join(_tokens(int(low + (high - low) * rng.random() ** 2), rng.randint(0, 10**6))).strip()

    work = []
    for _ in range(calls):
        messages = [{"role": "system", "content": "You are a helpful assistant. Answer briefly and cite sources."}]
        for _ in range(rng.randint(0, 3)):
            messages += [{"role": "user", "content": text(5, 80)}, {"role": "assistant", "content": text(20, 400)}]
        messages.append({"role": "user", "content": text(5, 1500)})
        work.append((messages, int(20 + 1480 * rng.random() ** 2)))
    return work


def _runner(url: str) -> tuple[Callable[[Work], int], Callable[[Work], int]]:
    """(streamed, non-streamed): each makes every call of the work it is given once and returns the characters read."""
    from services.client import InferenceClient
    from services.config import Deployment

    deployment = Deployment(
        name="bench",
        endpoint=url,
        key="bench-key",
        api="openai",
        max_retries=0,
        price_per_1k_input=0.00015,
        price_per_1k_output=0.0006,
    )
    client = InferenceClient(deployment)

    def streamed(work: Work) -> int:
        read = 0
        for messages, tokens in work:
            with client.stream_chat(messages, max_tokens=tokens, temperature=0.7) as stream:
                for delta in stream:
                    if delta.content:
                        read += len(delta.content)
                assert stream.result.finish_reason == "stop"
        return read

    def whole(work: Work) -> int:
        read = 0
        for messages, tokens in work:
            read += len(client.chat(messages, max_tokens=tokens, temperature=0.7).content)
        return read

    return streamed, whole


def _round(run: Callable[[Work], int], work: Work, recording: bool, flushed: bool) -> tuple[float, float]:
    """Wall seconds for the calls of `work` with recording on or off (with `flushed`, until each span of them is
    written), and the CPU seconds this process spent on them, every thread's: the trace writer's work is in it
    whether or not it was inside the clock, and a busy shared machine disturbs it far less than wall time."""
    from services import tracing

    if recording:
        os.environ.pop("PLAYGROUND_TRACE", None)
    else:
        os.environ["PLAYGROUND_TRACE"] = "off"
    cpu = time.process_time()
    started = time.perf_counter()
    run(work)
    if flushed:
        tracing.flush(timeout=60)
    elapsed = time.perf_counter() - started
    tracing.flush(timeout=60)  # the next round starts with an idle writer either way
    return elapsed, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40, help="the calls of the workload (mixed lengths)")
    parser.add_argument("--slice", type=int, default=10, help="calls per round (each slice of the workload in turn)")
    parser.add_argument("--repeat", type=int, default=5, help="times each slice is measured per setting")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return
    data = tempfile.TemporaryDirectory()
    os.environ["PLAYGROUND_DATA_DIR"] = data.name
    os.environ.pop("PLAYGROUND_TRACE", None)
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # the local store only: no collector in the figure
    os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    work = _workload(args.calls)
    slices = [work[start : start + args.slice] for start in range(0, len(work), args.slice)]
    process, url = _start_server()
    ratios: dict[str, list[float]] = {}
    cpu_times: dict[tuple[str, bool], list[float]] = {}
    times: dict[str, list[float]] = {}
    rounds_on = 0
    try:
        streamed, whole = _runner(url)
        expected = streamed(work)
        assert whole(work) == expected  # both paths read the whole answers (and everything is warm)
        kinds = {"streamed": streamed, "non-streamed": whole}
        # Each slice of the workload is timed with recording on and off back to back (the order alternating), and
        # the pair gives one ratio: drift on a shared machine weighs on both halves of a pair alike.
        for repeat in range(args.repeat):
            for index, part in enumerate(slices):
                order = (True, False) if (repeat + index) % 2 == 0 else (False, True)
                for kind, run in kinds.items():
                    for mode in ("caller", "flushed"):
                        pair = {}
                        for recording in order:
                            wall, cpu = _round(run, part, recording, mode == "flushed")
                            pair[recording] = wall / len(part)
                            cpu_times.setdefault((kind, recording), []).append(cpu / len(part))
                            rounds_on += len(part) if recording else 0
                        ratios.setdefault(f"{kind}/{mode}", []).append(pair[True] / pair[False])
                        times.setdefault(f"{kind}/{mode}/on", []).append(pair[True])
                        times.setdefault(f"{kind}/{mode}/off", []).append(pair[False])
    finally:
        process.terminate()
        process.wait(timeout=10)
    from services import tracing
    from services.store.traces import TraceStore

    tracing.flush(timeout=60)
    recorded = TraceStore(Path(data.name) / tracing.TRACE_FILE).count()
    data.cleanup()
    expected_spans = 2 * args.calls + rounds_on  # the warm-up plus every call made with recording on
    assert recorded == expected_spans, f"{recorded} spans recorded, {expected_spans} expected"
    pairs = len(ratios["streamed/caller"])
    print(
        f"{args.calls} calls of mixed length (answers average {expected // args.calls} characters), {pairs} pairs each"
    )
    for kind in ("streamed", "non-streamed"):
        for mode, words in (("caller", "as the caller sees it"), ("flushed", "all recording work included")):
            on = statistics.median(times[f"{kind}/{mode}/on"])
            off = statistics.median(times[f"{kind}/{mode}/off"])
            ratio = statistics.median(ratios[f"{kind}/{mode}"])
            print(
                f"{kind} chat, {words}: ratio on/off {ratio:.3f} (median of pairs); "
                f"per call on {on * 1e3:.2f} ms, off {off * 1e3:.2f} ms"
            )
    for kind in ("streamed", "non-streamed"):
        on, off = statistics.median(cpu_times[(kind, True)]), statistics.median(cpu_times[(kind, False)])
        print(
            f"{kind} chat, CPU of this process per call, all recording work included: on {on * 1e3:.2f} ms, "
            f"off {off * 1e3:.2f} ms, ratio {on / off:.3f}"
        )
    print(f"spans recorded: {recorded} (one per call made with recording on)")
    headline = statistics.median(ratios["streamed/caller"])
    verdict = "met" if headline <= GOAL_STREAM else "NOT met"
    print(f"goal (a streamed call, recording on <= {GOAL_STREAM}x off, as the caller sees it): {verdict}")


if __name__ == "__main__":
    main()
