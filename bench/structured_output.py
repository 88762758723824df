"""Benchmark of JSON output on the embedded chat model: seconds per call for `json_object`, `json_schema` (a small
schema, first call and repeated calls) and a plain answer of the same length, all through HTTP in the same run; and,
in process, the same greedy JSON answer with llama-cpp-python's own grammar sampling (the grammar inside the chain,
as before this change) against the grammar checked one token at a time.

Run: `.venv/bin/python bench/structured_output.py`. Rounds alternate the kinds of call so load from other processes
falls on all alike; medians are printed. Each JSON answer's plain peer asks the same prompt with `max_tokens` set to
the JSON answer's length, so both sample the same number of tokens after the same prompt. Besides wall seconds, each
call's CPU seconds are measured (the server process's, in process the model thread's) with llama.cpp on one thread,
so a machine shared with other work still gives comparable figures (wall time there mostly measures the waiting).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from local_endpoint.chat_model import ChatModel, GenerationJob, load_chat_model
from local_endpoint.config import EndpointConfig
from tests.fixtures.local_endpoint import run_local_endpoint

API = {"api-version": "2024-05-01-preview"}
CHAT = "smollm2-135m-instruct"
PROMPT = "Give a JSON object with the keys name and age for a person named Ann who is 30."
ROUNDS = 5
# One llama.cpp thread: with more, a descheduled thread leaves the others spinning, which CPU time would count.
THREADS = "1"
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def child_pid() -> int:
    """The pid of the endpoint this process started (its only child running `local_endpoint`)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"local_endpoint" in cmdline:
            return int(entry)
    raise RuntimeError("the endpoint's process was not found")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def person_schema(extra: str | None = None) -> dict[str, Any]:
    """The small schema; `extra` adds an optional property so the schema (and its cache key) is new."""
    properties: dict[str, Any] = {"name": {"type": "string"}, "age": {"type": "integer"}}
    if extra:
        properties[extra] = {"type": "string"}
    return {"type": "object", "properties": properties, "required": ["name", "age"]}


def schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    """`response_format` for `schema`."""
    return {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}


Call = tuple[float, float, int, str]


def call(client: httpx.Client, url: str, pid: int, **body: Any) -> Call:
    """(wall seconds, server CPU seconds, completion tokens, finish_reason) of one non-streamed chat call at
    temperature 0."""
    payload = {"messages": [{"role": "user", "content": PROMPT}], "temperature": 0, **body}
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    answer = client.post(f"{url}/{CHAT}/chat/completions", params=API, json=payload)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    data = answer.json()
    used = cpu_seconds(pid) - cpu
    return elapsed, used, data["usage"]["completion_tokens"], data["choices"][0]["finish_reason"]


def http_rounds(url: str) -> dict[str, list[Call]]:
    """Each kind of call once per round, every JSON call followed by its plain peer of the same length."""
    results: dict[str, list[Call]] = {}
    pid = child_pid()
    with httpx.Client(timeout=300) as client:
        call(client, url, pid, max_tokens=8)  # warm-up: the first request pays for page-ins
        call(client, url, pid, response_format=schema_format(person_schema()))  # the repeated schema, compiled here
        for round_no in range(ROUNDS):
            kinds = {
                "json_object": {"response_format": {"type": "json_object"}},
                "json_schema first call": {"response_format": schema_format(person_schema(f"note_{round_no}"))},
                "json_schema repeated": {"response_format": schema_format(person_schema())},
            }
            for kind, body in kinds.items():
                result = call(client, url, pid, **body)
                results.setdefault(kind, []).append(result)
                peer = call(client, url, pid, max_tokens=result[2])
                results.setdefault(f"plain peer of {kind}", []).append(peer)
    return results


def in_process(model: ChatModel) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds for the same greedy json_schema answer: plain (no grammar, same length), llama-cpp-python's
    grammar in the chain, and the checked grammar. As in the server, the prompt stays cached from call to call (each
    call evaluates its last token again), so the figures are the answer's tokens."""
    from llama_cpp.llama_grammar import LlamaGrammar

    compiled = model.grammars.json_schema(person_schema())
    tokens = model.prompt_tokens([{"role": "user", "content": PROMPT}])

    def run(grammar: Any, max_tokens: int) -> tuple[float, float, int]:
        cpu = time.thread_time()
        started = time.perf_counter()
        job = GenerationJob(tokens, {"temperature": 0, "max_tokens": max_tokens}, grammar)
        outcome = model.generate(job, lambda _text: None, threading.Event())
        return time.perf_counter() - started, time.thread_time() - cpu, outcome.completion_tokens

    *_, length = run(compiled, 256)
    out: dict[str, list[tuple[float, float]]] = {}
    for _ in range(ROUNDS):
        for kind, grammar in [
            ("plain, same length", None),
            ("grammar in the chain (llama-cpp-python)", LlamaGrammar.from_string(compiled._grammar)),
            ("grammar checked per token (this endpoint)", compiled),
        ]:
            wall, cpu, sampled = run(grammar, length)
            assert sampled == length, (kind, sampled, length)
            out.setdefault(kind, []).append((wall, cpu))
    print(f"in process, the same greedy json_schema answer ({length} tokens), median of {ROUNDS}")
    return out


def median(values: Any) -> float:
    """The median of `values`."""
    return statistics.median(list(values))


def main() -> None:
    """Print wall and CPU seconds per call (median of the rounds) with their ratios to the plain peer."""
    with run_local_endpoint({"LOCAL_ENDPOINT_THREADS": THREADS}) as url:
        results = http_rounds(url)
    print(f"HTTP, {CHAT}, temperature 0, median of {ROUNDS} rounds: wall s, server CPU s per call; ratio to the peer")
    for kind in ("json_object", "json_schema first call", "json_schema repeated"):
        mine, peer = results[kind], results[f"plain peer of {kind}"]
        wall, cpu = median(r[0] for r in mine), median(r[1] for r in mine)
        peer_wall, peer_cpu = median(r[0] for r in peer), median(r[1] for r in peer)
        tokens = "/".join(str(t) for t in sorted({r[2] for r in mine}))
        peer_tokens = "/".join(str(t) for t in sorted({r[2] for r in peer}))
        reasons = "/".join(sorted({r[3] for r in mine}))
        print(
            f"  {kind:23s} {wall:5.2f} s, CPU {cpu:5.2f} s ({tokens} tokens, {reasons})"
            f" | plain peer {peer_wall:5.2f} s, CPU {peer_cpu:5.2f} s ({peer_tokens} tokens)"
            f" | ratio wall {wall / peer_wall:.2f}, CPU {cpu / peer_cpu:.2f}"
        )
    model = load_chat_model(EndpointConfig.from_environ({"LOCAL_ENDPOINT_THREADS": THREADS}))
    local = in_process(model)
    plain_wall = median(w for w, _ in local["plain, same length"])
    plain_cpu = median(c for _, c in local["plain, same length"])
    for kind, runs in local.items():
        wall, cpu = median(w for w, _ in runs), median(c for _, c in runs)
        print(
            f"  {kind:42s} {wall:5.2f} s, CPU {cpu:5.2f} s | ratio to plain wall {wall / plain_wall:.2f}, "
            f"CPU {cpu / plain_cpu:.2f}"
        )


if __name__ == "__main__":
    main()
