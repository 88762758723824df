"""A span carries the owner of the signed-in user who caused it (`tracing.set_owner`), into worker threads too, and
the Traces page's owner filter finds it on both engines."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from services import tracing
from services.store.traces import TraceFilter, TraceStore
from services.trace_rows import span_row


@pytest.fixture
def owner_reset() -> Iterator[None]:
    """set_owner in a test must not leak into the next one."""
    token = tracing.set_owner(None)
    yield
    tracing._OWNER.reset(token)


def _span(trace_id: str) -> tracing.SpanRecord:
    now = tracing.now_ns()
    return tracing.SpanRecord(
        trace_id=trace_id,
        action="chat turn",
        page="chat",
        operation="chat",
        deployment="phi",
        host="127.0.0.1",
        api="openai",
        route="/chat/completions",
        request_model=None,
        request_id="r1",
        start_ns=now,
        end_ns=now + 1000,
        attempt=1,
        status="ok",
    )


def test_a_span_takes_the_owner_set_for_its_context_also_in_a_carried_thread(owner_reset: None) -> None:
    assert _span("0" * 31 + "1").owner is None
    tracing.set_owner("ann@example.com")
    made: list[tracing.SpanRecord] = []
    worker = threading.Thread(target=tracing.carry(lambda: made.append(_span("0" * 31 + "2"))))
    worker.start()
    worker.join()
    plain: list[tracing.SpanRecord] = []
    uncarried = threading.Thread(target=lambda: plain.append(_span("0" * 31 + "3")))
    uncarried.start()
    uncarried.join()
    assert made[0].owner == "ann@example.com" and span_row(made[0])["owner"] == "ann@example.com"
    assert plain[0].owner is None  # a thread not started with carry() has no context of the caller's


def test_recorded_spans_are_stored_with_their_owner_and_filtered_by_it(database_url: str, owner_reset: None) -> None:
    tracing.set_owner("ann@example.com")
    with tracing.action("chat turn") as anns:
        tracing.record(_span(anns.trace_id))
    tracing.set_owner("bob@example.com")
    with tracing.action("chat turn") as bobs:
        tracing.record(_span(bobs.trace_id))
    assert tracing.flush(10), "the trace writer did not catch up"
    store = TraceStore()
    assert [t["trace_id"] for t in store.traces(TraceFilter(owner="ann@example.com"))] == [anns.trace_id]
    assert [t["trace_id"] for t in store.traces(TraceFilter(owner="bob@example.com"))] == [bobs.trace_id]
    assert store.count() == 2 and store.spans(anns.trace_id)[0]["owner"] == "ann@example.com"
