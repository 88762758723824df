"""Load, loopback only: a team's playground, two app processes on one PostgreSQL, 30 users chatting at once.

Each simulated user is a browser-less Streamlit session (bench/streamlit_session.py, the websocket protocol a
browser speaks) on one of the two app processes, in turn: it opens the chat page, caps max_tokens, and sends one
message to the embedded endpoint. Then the script checks what was stored: every user's conversation exactly once,
holding their message once and its answer once, and readable from the *other* app process (a `?c=` link opened
there shows the message). It prints p50/p95 of page-ready, first-token and answer times, and the transactions per
second PostgreSQL committed during the run (from pg_stat_database), then how many conversation saves and loads per
second the storage layer sustains on PostgreSQL against SQLite measured in the same run.

Run: `.venv/bin/python bench/team_load.py [--users 30]` (`make bench` runs it with the others). Exits non-zero when
a check fails. Figures from this machine are kept in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.streamlit_session import StreamlitSession, widget_value

USERS = 30
MAX_TOKENS = 16
USER_TIMEOUT_S = 300.0
STORAGE_SECONDS = 5.0
STORAGE_THREADS = 8


@dataclass
class UserRun:
    """What one simulated user saw: page-ready, first-token and answer seconds, the conversation id it got."""

    index: int
    app: int
    message: str
    page_ready_s: float | None = None
    first_token_s: float | None = None
    answer_s: float | None = None
    conversation_id: str | None = None
    answer: str = ""
    error: str | None = None
    exceptions: list[str] = field(default_factory=list)


def user_message(index: int) -> str:
    """A message no other user sends, so the store can be searched for each one."""
    return f"User {index:02d} here: name one colour of the sea."


async def simulated_user(index: int, app: int, app_url: str) -> UserRun:
    """Open the chat page, cap max_tokens, send one message and read the streamed answer to its end."""
    run = UserRun(index, app, user_message(index))
    try:
        async with asyncio.timeout(USER_TIMEOUT_S), StreamlitSession(app_url) as session:
            loaded = await session.rerun("chat")
            run.page_ready_s = loaded.seconds
            switch = widget_value(loaded.widgets["p_max_tokens_on"][1], bool_value=True)
            capped = await session.rerun("chat", [switch])
            limit = widget_value(capped.widgets["p_max_tokens"][1], int_value=MAX_TOKENS)
            ready = await session.rerun("chat", [switch, limit])
            chat = widget_value(ready.widgets["chat_input"][1], chat=run.message)
            answered = await session.rerun("chat", [switch, limit, chat])
            run.first_token_s, run.answer_s = answered.first_token_s, answered.seconds
            run.conversation_id = _conversation_id(answered.query_string)
            run.exceptions = loaded.exceptions + answered.exceptions
            # The answer is the markdown drawn after the user's message (its last, cursor-free version).
            after = (
                answered.markdown[answered.markdown.index(run.message) + 1 :]
                if run.message in answered.markdown
                else []
            )
            run.answer = next((body for body in reversed(after) if body and not body.startswith("first token")), "")
    except Exception as exc:  # a user that fails is counted, not fatal to the others
        run.error = f"{type(exc).__name__}: {exc}"
    return run


def _conversation_id(query_string: str | None) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(query_string or "").get("c")
    return values[0] if values else None


async def opened_elsewhere(app_url: str, run: UserRun) -> bool:
    """Whether the user's `?c=` link, opened on the other app process, shows their message."""
    async with asyncio.timeout(60), StreamlitSession(app_url) as session:
        shown = await session.rerun("chat", query_string=f"c={run.conversation_id}")
    return run.message in shown.markdown


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def _spread(values: list[float]) -> str:
    return f"p50 {_pct(values, 0.5):.2f}s p95 {_pct(values, 0.95):.2f}s max {_pct(values, 1.0):.2f}s (n={len(values)})"


def database_counters(url: str) -> dict[str, int]:
    """Committed transactions and rows written/read in the bench's database so far."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_fetched FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return dict(zip(("commits", "inserted", "updated", "fetched"), (int(v) for v in row), strict=True))


def check_stored(url: str, runs: list[UserRun]) -> list[str]:
    """Problems with what PostgreSQL holds: each user's conversation once, their message once, one answer."""
    from services.store.conversations import ConversationStore
    from services.transcript import from_json

    problems = []
    store = ConversationStore(database_url=url)
    ids = [run.conversation_id for run in runs if run.conversation_id]
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} conversation ids were given to two users")
    for run in runs:
        if run.conversation_id is None:
            problems.append(f"user {run.index}: no conversation id in the URL")
            continue
        text = store.load(run.conversation_id)
        if text is None:
            problems.append(f"user {run.index}: conversation {run.conversation_id} is not stored")
            continue
        messages = from_json(text).messages
        roles = [m.role for m in messages]
        mine = [m for m in messages if m.role == "user" and m.content == run.message]
        if roles != ["user", "assistant"] or len(mine) != 1 or not messages[1].content.strip():
            problems.append(f"user {run.index}: stored {roles} ({len(mine)} copies of the message)")
    return problems


def storage_rate(make_store: Callable[[], Any], seconds: float, threads: int) -> float:
    """Conversation saves plus loads per second from `threads` threads for `seconds` (the layer, no app)."""
    from services.store.conversations import new_conversation_id
    from services.transcript import ChatTurn, Transcript, to_json

    store = make_store()
    body = to_json(
        Transcript(
            messages=[ChatTurn(role="user", content="hello " * 40), ChatTurn(role="assistant", content="sea " * 200)]
        )
    )
    done = [0] * threads
    stop = threading.Event()

    def work(slot: int) -> None:
        while not stop.is_set():
            conversation_id = new_conversation_id()
            store.save(conversation_id, body)
            store.load(conversation_id)
            done[slot] += 2

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    return sum(done) / seconds


async def run_users(apps: list[str], users: int) -> list[UserRun]:
    """All users at once, alternating between the app processes."""
    return list(await asyncio.gather(*(simulated_user(i, i % len(apps), apps[i % len(apps)]) for i in range(users))))


def report(runs: list[UserRun], wall: float, before: dict[str, int], after: dict[str, int]) -> None:
    """Print the figures of the chat run."""
    good = [r for r in runs if r.error is None]
    print(f"chat: {len(runs)} users on 2 app processes, all done in {wall:.1f} s; {len(good)} finished")
    print(f"  page ready      {_spread([r.page_ready_s for r in good if r.page_ready_s is not None])}")
    print(f"  first token     {_spread([r.first_token_s for r in good if r.first_token_s is not None])}")
    print(f"  answer complete {_spread([r.answer_s for r in good if r.answer_s is not None])}")
    delta = {name: after[name] - before[name] for name in after}
    print(
        f"  PostgreSQL during the run: {delta['commits'] / wall:.1f} commits/s, {delta['inserted']} rows inserted,"
        f" {delta['updated']} updated, {delta['fetched']} fetched"
    )
    for run in runs:
        if run.error or run.exceptions:
            print(f"  user {run.index} (app {run.app}): {run.error or ''} {run.exceptions[:2]}")


def main(argv: list[str] | None = None) -> int:
    """Start PostgreSQL, the embedded endpoint and two app processes on loopback; load; check; print; stop."""
    from services.store.conversations import ConversationStore
    from tests.fixtures.app_server import local_deployments_toml, run_app_server
    from tests.fixtures.local_endpoint import run_local_endpoint
    from tests.fixtures.postgres import run_postgres

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=USERS, help=f"simulated users (default {USERS})")
    args = parser.parse_args(argv)
    print("load average at start: " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    problems: list[str] = []
    with run_postgres() as url, run_local_endpoint() as endpoint_url:
        config = local_deployments_toml(endpoint_url)
        env = {"PLAYGROUND_DATABASE_URL": url}
        with run_app_server(config, env) as first, run_app_server(config, env) as second:
            apps = [first.url, second.url]
            # One page load per process first: a fresh process imports the pages' modules once (about 2 s of CPU).
            asyncio.run(run_users_warm(apps))
            before, started = database_counters(url), time.perf_counter()
            runs = asyncio.run(run_users(apps, args.users))
            wall = time.perf_counter() - started
            after = database_counters(url)
            report(runs, wall, before, after)
            problems += [f"user {r.index}: {r.error}" for r in runs if r.error]
            problems += [f"user {r.index}: the page showed {r.exceptions[0]}" for r in runs if r.exceptions]
            problems += [f"user {r.index}: no answer was drawn" for r in runs if r.error is None and not r.answer]
            problems += check_stored(url, runs)
            crossed = asyncio.run(_open_all_elsewhere(apps, [r for r in runs if r.conversation_id]))
            print(f"  conversations opened on the other app process: {sum(crossed)}/{len(crossed)} show the message")
            problems += [f"{len(crossed) - sum(crossed)} conversations did not open on the other process"] * (
                sum(crossed) < len(crossed)
            )
        pg_rate = storage_rate(lambda: ConversationStore(database_url=url), STORAGE_SECONDS, STORAGE_THREADS)
    sqlite_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"team-load-{os.getpid()}.sqlite"
    try:
        sqlite_rate = storage_rate(lambda: ConversationStore(sqlite_path), STORAGE_SECONDS, STORAGE_THREADS)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
    print(
        f"storage: conversation saves+loads per second from {STORAGE_THREADS} threads: PostgreSQL {pg_rate:.0f}/s,"
        f" SQLite {sqlite_rate:.0f}/s (PostgreSQL/SQLite {pg_rate / sqlite_rate:.2f})"
    )
    print("load average at end: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    for problem in problems:
        print("  FAIL", problem)
    print("team load:", "PASS" if not problems else "FAIL")
    return 0 if not problems else 1


async def run_users_warm(apps: list[str]) -> None:
    """Load the chat page once on each app process."""
    for app_url in apps:
        async with StreamlitSession(app_url) as session:
            await session.rerun("chat")


async def _open_all_elsewhere(apps: list[str], runs: list[UserRun]) -> list[bool]:
    return list(await asyncio.gather(*(opened_elsewhere(apps[(r.app + 1) % len(apps)], r) for r in runs)))


if __name__ == "__main__":
    sys.exit(main())
