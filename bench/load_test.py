"""Load test, loopback only: the embedded endpoint under concurrent requests, and the app under concurrent sessions.

1. 50 chat requests (short prompts, small max_tokens) and 200 embeddings requests at once to the embedded endpoint:
   every one must get a 200 or a clean 429 (the API's body with Retry-After), none a 500, none lost.
2. 20 browser-less sessions of the Streamlit app, each opening `/_stcore/stream` as a browser does and loading
   three pages, while `/_stcore/health` is polled from another thread: every poll must answer within 1 s.
The script starts its own endpoint and app on free 127.0.0.1 ports and stops them; it prints its figures and exits
non-zero when a check fails. Run: `.venv/bin/python bench/load_test.py` (`make bench` runs it with the others).
tests/local_endpoint/test_load.py runs a small version of part 1 (`run_load`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

API = {"api-version": "2024-05-01-preview"}
CHAT = "/smollm2-135m-instruct/chat/completions"
EMBED = "/all-minilm-l6-v2/embeddings"


@dataclass
class Outcomes:
    """What happened to each request: `ok` (200), `limited` (a well-formed 429), or a named failure."""

    sent: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    latencies_ok: list[float] = field(default_factory=list)
    retry_after_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def answered(self) -> int:
        """Requests that got any outcome at all (a lost request has none)."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line with the counts and latency percentiles of the answered requests."""
        lat = sorted(self.latencies_ok)

        def pct(p: float) -> str:
            return f"{lat[min(len(lat) - 1, int(p * len(lat)))]:.2f}s" if lat else "-"

        retry = (
            f", Retry-After {min(self.retry_after_s):.0f}-{max(self.retry_after_s):.0f}s" if self.retry_after_s else ""
        )
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return f"sent {self.sent}: {counts}; 200 latency p50 {pct(0.5)} p95 {pct(0.95)} max {pct(1.0)}{retry}"


def _problem_with_429(answer: httpx.Response) -> str | None:
    """None when the 429 has the API's body and the three retry-after headers, else what is wrong."""
    try:
        error = answer.json()["error"]
        assert error["code"] == "too_many_requests" and error["message"]
        seconds = float(answer.headers["Retry-After"])
        assert seconds >= 1
        assert float(answer.headers["retry-after-ms"]) == seconds * 1000
        assert float(answer.headers["x-ms-retry-after-ms"]) == seconds * 1000
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        return f"malformed 429 ({type(exc).__name__}: {exc}): {answer.headers} {answer.text[:200]}"
    return None


async def _one(client: httpx.AsyncClient, path: str, body: dict[str, Any], outcomes: Outcomes) -> None:
    started = time.perf_counter()
    try:
        answer = await client.post(path, params=API, json=body)
    except httpx.HTTPError as exc:
        outcomes.counts[f"transport error {type(exc).__name__}"] += 1
        outcomes.problems.append(repr(exc))
        return
    if answer.status_code == 200:
        outcomes.counts["ok"] += 1
        outcomes.latencies_ok.append(time.perf_counter() - started)
    elif answer.status_code == 429:
        problem = _problem_with_429(answer)
        outcomes.counts["limited" if problem is None else "malformed 429"] += 1
        if problem is None:
            outcomes.retry_after_s.append(float(answer.headers["Retry-After"]))
        else:
            outcomes.problems.append(problem)
    else:
        outcomes.counts[f"http {answer.status_code}"] += 1
        outcomes.problems.append(f"{answer.status_code}: {answer.text[:200]}")


async def run_load(
    base_url: str, *, chats: int, embeddings: int, max_tokens: int = 4, timeout_s: float = 120.0
) -> tuple[Outcomes, Outcomes, float]:
    """Send `chats` chat and `embeddings` embeddings requests all at once; their outcomes and the wall time."""
    host = urlsplit(base_url).hostname
    if host != "127.0.0.1":
        raise ValueError(f"load goes to loopback only, not {host}")
    chat, embed = Outcomes(sent=chats), Outcomes(sent=embeddings)
    limits = httpx.Limits(max_connections=chats + embeddings, max_keepalive_connections=chats + embeddings)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits) as client:
        tasks = [
            _one(
                client,
                CHAT,
                {
                    "messages": [{"role": "user", "content": f"Say hello to number {i}."}],
                    "max_tokens": max_tokens,
                    "temperature": 0,
                },
                chat,
            )
            for i in range(chats)
        ] + [_one(client, EMBED, {"input": [f"sentence number {i} about the sea"]}, embed) for i in range(embeddings)]
        started = time.perf_counter()
        await asyncio.gather(*tasks)
        return chat, embed, time.perf_counter() - started


@dataclass
class SessionRun:
    """One browser-less Streamlit session: seconds to each finished script run, and what went wrong."""

    runs_s: list[float] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    bytes_received: list[int] = field(default_factory=list)
    exceptions: int = 0
    error: str | None = None


async def browserless_session(app_url: str, pages: list[str], timeout_s: float) -> SessionRun:
    """Open `/_stcore/stream` as the browser does and load each of `pages` (`""` is the default page)."""
    from bench.streamlit_session import StreamlitSession

    run = SessionRun()
    try:
        async with asyncio.timeout(timeout_s), StreamlitSession(app_url) as session:
            for page in pages:
                script = await session.rerun(page)
                run.runs_s.append(script.seconds)
                run.messages.append(script.messages)
                run.bytes_received.append(script.bytes_received)
                run.exceptions += len(script.exceptions)
    except Exception as exc:  # a session that fails is counted, not fatal to the others
        run.error = f"{type(exc).__name__}: {exc}"
    return run


@dataclass
class HealthPolls:
    """Latencies of `/_stcore/health` polls, failures, and (start time, latency) of each poll over the limit."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    slow: list[tuple[float, float]] = field(default_factory=list)


def poll_health(app_url: str, stop: Any, results: Any) -> None:
    """GET `/_stcore/health` every 100 ms until `stop` is set, then send the HealthPolls through `results`.

    Runs in its own process: in this one, the sessions' message decoding would hold the GIL and make the
    server look slower than it is."""
    polls = HealthPolls()
    with httpx.Client(timeout=5.0) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                answer = client.get(f"{app_url}/_stcore/health")
                if answer.status_code != 200:
                    polls.failures.append(f"HTTP {answer.status_code}")
            except httpx.HTTPError as exc:
                polls.failures.append(repr(exc))
            polls.latencies.append(time.perf_counter() - started)
            if polls.latencies[-1] >= HEALTH_LIMIT_S:
                polls.slow.append((time.time(), polls.latencies[-1]))
            stop.wait(0.1)
    results.send(polls)


async def run_sessions(app_url: str, sessions: int, pages: list[str], timeout_s: float) -> list[SessionRun]:
    """`sessions` browser-less sessions at once, each loading `pages`."""
    return list(await asyncio.gather(*(browserless_session(app_url, pages, timeout_s) for _ in range(sessions))))


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def endpoint_phase(base_url: str) -> bool:
    """50 chats and 200 embeddings at once; True when every request got a 200 or a well-formed 429."""
    chat, embed, wall = asyncio.run(run_load(base_url, chats=CHATS, embeddings=EMBEDDINGS, max_tokens=8))
    print(f"endpoint: {CHATS} chat + {EMBEDDINGS} embeddings requests at once, all done in {wall:.1f} s")
    print(f"  chat       {chat.summary()}")
    print(f"  embeddings {embed.summary()}")
    good = True
    for name, outcome in (("chat", chat), ("embeddings", embed)):
        lost = outcome.sent - outcome.answered
        bad = outcome.answered - outcome.counts["ok"] - outcome.counts["limited"]
        if lost or bad:
            good = False
            print(f"  FAIL {name}: {lost} lost, {bad} neither 200 nor a well-formed 429: {outcome.problems[:3]}")
    return good


def app_phase(app_url: str, sessions: int = 20) -> bool:
    """`sessions` browser-less sessions at once while /_stcore/health is polled; True when all went well."""
    # One session first: a fresh process imports the pages' modules on its first run (about 2 s of CPU, once per
    # replica); what follows measures the app serving users, not that one-off start-up.
    warm = asyncio.run(run_sessions(app_url, 1, PAGES, timeout_s=SESSION_TIMEOUT_S))
    print(f"app: warmed by one session ({', '.join(f'{s:.2f}s' for s in warm[0].runs_s)})")
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    receiver, sender = context.Pipe(duplex=False)
    poller = context.Process(target=poll_health, args=(app_url, stop, sender), daemon=True)
    poller.start()
    time.sleep(2.0)  # the poller process starts, and polls the idle app a few times
    started, started_wall = time.perf_counter(), time.time()
    runs = asyncio.run(run_sessions(app_url, sessions, PAGES, timeout_s=SESSION_TIMEOUT_S))
    wall = time.perf_counter() - started
    time.sleep(0.5)
    stop.set()
    polls: HealthPolls = receiver.recv() if receiver.poll(30) else HealthPolls(failures=["the poller sent nothing"])
    poller.join(timeout=10)
    latencies, failures, slow = polls.latencies, polls.failures, polls.slow
    finished = [r for r in runs if r.error is None and len(r.runs_s) == len(PAGES)]
    exceptions = sum(r.exceptions for r in runs)
    print(f"app: {sessions} browser-less sessions at once, each loading {PAGES}, all done in {wall:.1f} s")
    print(f"  sessions finished {len(finished)}/{sessions}; exceptions shown {exceptions}")
    for i, page in enumerate(PAGES):
        times = [r.runs_s[i] for r in runs if len(r.runs_s) > i]
        spread = f"p50 {_pct(times, 0.5):.2f}s p95 {_pct(times, 0.95):.2f}s max {_pct(times, 1.0):.2f}s"
        count = _pct([r.messages[i] for r in runs if len(r.messages) > i], 0.5)
        size = _pct([r.bytes_received[i] for r in runs if len(r.bytes_received) > i], 0.5) / 1024
        print(f"  page {page or '/'!r}: seconds to the script's end {spread}; {count:.0f} messages, {size:.0f} KiB")
    print(
        f"  /_stcore/health polled {len(latencies)} times: p50 {_pct(latencies, 0.5) * 1000:.0f} ms, "
        f"p95 {_pct(latencies, 0.95) * 1000:.0f} ms, max {_pct(latencies, 1.0) * 1000:.0f} ms, failures {len(failures)}"
    )
    errors = [r.error for r in runs if r.error]
    if slow:
        when = ", ".join(f"{latency:.1f}s at +{at - started_wall:.1f}s" for at, latency in slow[:8])
        print(f"  polls over {HEALTH_LIMIT_S:.0f} s: {len(slow)} ({when})")
    good = len(finished) == sessions and not exceptions and not failures and _pct(latencies, 1.0) < HEALTH_LIMIT_S
    if not good:
        print(f"  FAIL: session errors {errors[:3]}, health failures {failures[:3]}")
    return good


CHATS = 50
EMBEDDINGS = 200
SESSIONS = 20
PAGES = ["", "embeddings", "models"]
SESSION_TIMEOUT_S = 120.0
HEALTH_LIMIT_S = 1.0


def main(argv: list[str] | None = None) -> int:
    """Start an endpoint and an app on free loopback ports, load them, print the figures, stop them."""
    import argparse
    import os

    from tests.fixtures.app_server import local_deployments_toml, run_app_server
    from tests.fixtures.local_endpoint import run_local_endpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "endpoint", "app"], default="all", help="which load to run")
    parser.add_argument("--sessions", type=int, default=SESSIONS, help=f"app sessions at once (default {SESSIONS})")
    args = parser.parse_args(argv)
    part = args.part
    # Figures on a shared machine depend on what else runs: say how busy it was.
    print("load average at start: " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    results = []
    with run_local_endpoint() as endpoint_url:
        if part in ("all", "endpoint"):
            results.append(endpoint_phase(endpoint_url))
        if part in ("all", "app"):
            with run_app_server(local_deployments_toml(endpoint_url)) as app:
                results.append(app_phase(app.url, args.sessions))
    print("load average at end: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    print("load test:", "PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
