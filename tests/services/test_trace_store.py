"""The trace store on its own, on both engines: summaries, filters (owner too), sorting, paging, retention, and
writers in several processes at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from services.store.traces import SPAN_COLUMNS, TraceFilter, TraceStore

NS = 1_000_000_000
# Recent times: the store applies its 30-day retention as it writes.
BASE = time.time_ns() - 3600 * NS


def _at(start: int) -> int:
    """Small numbers are seconds-in-ns after BASE; epoch times stay as they are."""
    return start if start > 10**17 else BASE + start


def row(trace: str, span: str, *, start: int, deployment: str = "a", **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(SPAN_COLUMNS)
    values.update(
        span_id=span,
        trace_id=trace,
        start_ns=_at(start),
        end_ns=_at(start) + NS // 2,
        operation="chat",
        deployment=deployment,
        status="ok",
        input_tokens=10,
        output_tokens=5,
        search="",
    )
    values.update(fields)
    return values


@pytest.fixture
def store(database_url: str) -> TraceStore:
    return TraceStore()


def test_a_trace_summary_merges_its_spans(store: TraceStore) -> None:
    store.write(
        [
            row("t1", "s1", start=10 * NS, deployment="gpt_4o", status="retried", search="hello there"),
            row("t1", "s2", start=11 * NS, deployment="gpt_4o", cost=0.5, search="general kenobi"),
            row("t1", "s3", start=12 * NS, deployment="phi", status="error", cost=0.25),
        ]
    )
    [trace] = store.traces()
    assert trace["deployments"] == ["gpt_4o", "phi"] and trace["operations"] == ["chat"]
    assert (trace["spans"], trace["errors"], trace["retries"], trace["status"]) == (3, 1, 1, "error")
    assert (trace["input_tokens"], trace["output_tokens"], trace["cost"]) == (30, 15, 0.75)
    assert trace["latency_s"] == pytest.approx(2.5)
    assert [span["span_id"] for span in store.spans("t1")] == ["s1", "s2", "s3"]


def test_writing_a_span_twice_counts_it_once(store: TraceStore) -> None:
    span = row("t1", "s1", start=NS)
    store.write([span])
    store.write([span])
    assert store.traces()[0]["spans"] == 1 and len(store.spans("t1")) == 1


def test_filters_narrow_by_deployment_operation_errors_time_and_text(store: TraceStore) -> None:
    store.write(
        [
            row("t1", "s1", start=1 * NS, deployment="gpt_4o", search="the weather in paris"),
            row("t2", "s2", start=2 * NS, deployment="gpt-4o", status="error"),
            row("t3", "s3", start=3 * NS, deployment="embedder", operation="embeddings", search="100% match"),
        ]
    )

    def ids(**kw: Any) -> list[str]:
        return [trace["trace_id"] for trace in store.traces(TraceFilter(**kw))]

    assert ids(deployments=["gpt_4o"]) == ["t1"]  # `_` is a letter here, not a LIKE wildcard
    assert ids(deployments=["gpt-4o", "embedder"]) == ["t3", "t2"]
    assert ids(operations=["embeddings"]) == ["t3"]
    assert ids(errors_only=True) == ["t2"]
    assert ids(since_ns=BASE + 2 * NS, until_ns=BASE + 2 * NS) == ["t2"]
    assert ids(text="Weather IN") == ["t1"] and ids(text="100%") == ["t3"] and ids(text="0% m") == ["t3"]
    assert store.count(TraceFilter(operations=["chat"])) == 2


def test_sorting_and_paging(store: TraceStore) -> None:
    store.write(
        [
            row(f"t{i:02}", f"s{i}", start=i * NS, input_tokens=i, end_ns=BASE + i * NS + (30 - i) * NS)
            for i in range(30)
        ]
    )
    newest = store.traces(limit=10)
    assert [trace["trace_id"] for trace in newest] == [f"t{i:02}" for i in range(29, 19, -1)]
    assert [trace["trace_id"] for trace in store.traces(limit=10, offset=20)][-1] == "t00"
    assert store.traces(sort="latency", limit=1)[0]["trace_id"] == "t00"
    assert store.traces(sort="tokens", limit=1)[0]["trace_id"] == "t29"
    assert store.traces(sort="time", descending=False, limit=1)[0]["trace_id"] == "t00"
    with pytest.raises(ValueError, match="sort must be one of"):
        store.traces(sort="start_ns; DROP TABLE spans")


def test_totals_per_deployment(store: TraceStore) -> None:
    store.write(
        [
            row("t1", "s1", start=NS, deployment="a", cost=1.0),
            row("t1", "s2", start=NS, deployment="b", status="error", input_tokens=None, output_tokens=None),
            row("t2", "s3", start=2 * NS, deployment="a", status="retried", cost=None),
        ]
    )
    totals = {item["deployment"]: item for item in store.totals()}
    assert (totals["a"]["calls"], totals["a"]["retries"], totals["a"]["input_tokens"], totals["a"]["cost"]) == (
        2,
        1,
        20,
        1.0,
    )
    assert (totals["b"]["calls"], totals["b"]["errors"], totals["b"]["input_tokens"], totals["b"]["cost"]) == (
        1,
        1,
        0,
        None,
    )
    assert store.deployments() == ["a", "b"]


def test_retention_by_age_deletes_whole_old_traces(database_url: str) -> None:
    store = TraceStore(retention_days=1)
    now = time.time_ns()
    store.write([row("new", "s2", start=now)])  # a write prunes at most once a minute: the next one does not
    store.write([row("old", "s1", start=now - 3 * 86_400 * NS)])
    assert store.count() == 2
    assert store.prune(now) == 1
    assert [trace["trace_id"] for trace in store.traces()] == ["new"] and store.spans("old") == []


def test_retention_by_count_keeps_the_newest_spans(database_url: str) -> None:
    store = TraceStore(max_spans=10)
    now = time.time_ns()
    store.write([row(f"t{i}", f"s{i}", start=now - (100 - i) * NS) for i in range(25)])  # pruned as it is written
    remaining = store.traces(limit=100)
    assert len(remaining) == 10 and remaining[-1]["trace_id"] == "t15"


def test_a_store_that_cannot_be_opened_says_which_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    from services.store.traces import TraceStoreError

    with pytest.raises(TraceStoreError, match="cannot be opened"):
        TraceStore(blocker / "traces.sqlite").traces()


_WRITER = """
import sys, time
from services.store.traces import TraceStore
from tests.services.test_trace_store import row

path, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = TraceStore(path or None)  # "": PLAYGROUND_DATABASE_URL, as the parent set it
for i in range(count):
    store.write([row(f"w{worker}-{i}", f"w{worker}-{i}-s", start=time.time_ns(), deployment=f"d{worker}")])
"""


def test_several_processes_write_at_once_without_losing_a_span(tmp_path: Path, database_url: str) -> None:
    path = "" if database_url else str(tmp_path / "shared.sqlite")
    TraceStore(path or None).write([row("seed", "seed", start=1)])  # the schema exists before the writers race
    # Separate interpreters (not multiprocessing: AppTest runs in this process and swaps sys.modules["__main__"]).
    root = Path(__file__).resolve().parents[2]
    workers = [subprocess.Popen([sys.executable, "-c", _WRITER, path, str(n), "150"], cwd=root) for n in range(3)]
    for worker in workers:
        assert worker.wait(120) == 0
    store = TraceStore(path or None)
    assert store.count() == 451
    assert {item["deployment"]: item["calls"] for item in store.totals()} == {"d0": 150, "d1": 150, "d2": 150, "a": 1}


def test_traces_are_filtered_by_owner(store: TraceStore) -> None:
    store.write(
        [
            row("ann1", "s1", start=1 * NS, owner="ann@example.com"),
            row("ann1", "s2", start=2 * NS, owner="ann@example.com", deployment="b"),
            row("bob1", "s3", start=3 * NS, owner="bob@example.com"),
            row("old1", "s4", start=4 * NS),  # recorded before sign-in: no owner
        ]
    )

    def ids(owner: str | None) -> list[str]:
        return [trace["trace_id"] for trace in store.traces(TraceFilter(owner=owner))]

    assert ids("ann@example.com") == ["ann1"] and ids("bob@example.com") == ["bob1"]
    assert ids(None) == ["old1", "bob1", "ann1"]  # no owner filter: everyone's
    assert ids("carol@example.com") == []
    assert store.count(TraceFilter(owner="ann@example.com")) == 1
    assert {item["deployment"] for item in store.totals(TraceFilter(owner="bob@example.com"))} == {"a"}
    assert [span["owner"] for span in store.spans("ann1")] == ["ann@example.com", "ann@example.com"]
    assert [span["span_id"] for span in store.spans_of(TraceFilter(owner="bob@example.com"))] == ["s3"]
