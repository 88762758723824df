"""The SSE decoder, retry-after parsing, backoff, and cost: pure functions, no network."""

from __future__ import annotations

import datetime
import email.utils
import json

import pytest

from services.config import Deployment
from services.errors import UnsupportedParameterError, error_from_response, retry_after_seconds
from services.metrics import Stopwatch, cost, estimate_tokens
from services.retry import RetryPolicy
from services.schemas import Usage
from services.sse import ServerSentEvent, SSEDecoder, iter_events


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    return list(iter_events(iter(chunks)))


def test_sse_splits_events_on_blank_lines() -> None:
    assert [e.data for e in decode(b"data: 1\n\ndata: 2\n\n")] == ["1", "2"]


def test_sse_handles_crlf_split_across_chunks() -> None:
    events = decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n", b"\r\n")
    assert [e.data for e in events] == ["a", "b"]


def test_sse_handles_lone_cr_line_endings() -> None:
    assert [e.data for e in decode(b"data: a\r\rdata: b\r\r")] == ["a", "b"]


def test_sse_skips_comments_and_keeps_event_and_id() -> None:
    events = decode(b": ping\n\nevent: delta\nid: 7\nretry: 5\ndata: x\n\n")
    assert events == [ServerSentEvent("x", "delta", "7")]


def test_sse_joins_multiline_data_and_flushes_unterminated_event() -> None:
    assert [e.data for e in decode(b"data: a\ndata: b\n\ndata: tail")] == ["a\nb", "tail"]


def test_sse_handles_utf8_split_inside_a_character() -> None:
    raw = "data: héllo\n\n".encode()
    cut = raw.index(b"\xc3") + 1
    assert decode(raw[:cut], raw[cut:])[0].data == "héllo"


def test_sse_decoder_is_incremental() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: par") == []
    assert decoder.feed(b"tial\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent("partial")]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"x-ms-retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date already past: no wait
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


def test_retry_after_as_a_future_http_date_counts_from_now() -> None:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    wait = retry_after_seconds({"retry-after": email.utils.format_datetime(when, usegmt=True)})
    assert wait is not None and 28 <= wait <= 30


def test_backoff_grows_exponentially_within_jitter_and_cap() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=2.0, jitter=0.25)
    for attempt, nominal in ((1, 0.5), (2, 1.0), (3, 2.0), (6, 2.0)):
        for _ in range(20):
            assert nominal * 0.75 <= policy.backoff(attempt) <= nominal * 1.25
    assert policy.wait_for(1, {"retry-after": "100"}) is None  # longer than max_wait: give up at once


def test_unsupported_parameter_value_comes_from_what_was_sent() -> None:
    detail = [{"loc": ["body", "tools"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}]
    error = error_from_response(
        422, {}, json.dumps({"detail": detail}), deployment="d", route="/chat/completions", sent={"tools": [1]}
    )
    assert isinstance(error, UnsupportedParameterError) and error.param == "tools" and error.value == [1]


@pytest.mark.parametrize(
    ("body", "invalid_value"),
    [
        ({"detail": [{"loc": ["body", "tools"], "msg": "not supported", "type": "parameter_not_supported"}]}, False),
        ({"code": "parameter_not_supported", "detail": {"loc": ["body", "response_format"], "input": "x"}}, False),
        (
            {
                "code": "invalid_input",
                "detail": [{"loc": ["body", "temperature"], "input": 1.5, "msg": "<= 1", "type": "less_than_equal"}],
            },
            True,
        ),
    ],
)
def test_a_refused_value_is_told_apart_from_an_unsupported_parameter(body: dict, invalid_value: bool) -> None:
    error = error_from_response(422, {}, json.dumps(body), deployment="d", route="/chat/completions")
    assert isinstance(error, UnsupportedParameterError) and error.invalid_value is invalid_value
    assert ("does not accept the value" in str(error)) is invalid_value


def test_cost_from_prices_and_none_without_prices() -> None:
    priced = Deployment(name="p", endpoint="https://x.y", price_per_1k_input=0.5, price_per_1k_output=1.5)
    usage = Usage(prompt_tokens=2000, completion_tokens=1000, total_tokens=3000)
    assert cost(usage, priced) == pytest.approx(2.5)
    assert cost(usage, Deployment(name="f", endpoint="https://x.y")) is None
    assert cost(None, priced) is None


def test_tokens_per_second_is_marked_estimated_without_usage() -> None:
    clock = Stopwatch()
    clock.mark_first()
    measured = clock.metrics(request_id="r", usage=Usage(completion_tokens=10), finish_reason="stop")
    estimated = clock.metrics(request_id="r", usage=None, finish_reason="stop", text="x" * 40)
    assert not measured.tokens_estimated and estimated.tokens_estimated
    assert estimate_tokens("x" * 40) == 10 and measured.tokens_per_s and estimated.tokens_per_s
