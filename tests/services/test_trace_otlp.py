"""OTLP export of recorded spans: real calls, a real OTLP/HTTP receiver on loopback, the SQLite store beside it."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from services import trace_otlp, tracing
from services.client import InferenceClient
from services.config import Deployment
from services.errors import ContentFilterError, InvalidRequestError
from services.retry import RetryPolicy
from services.store.location import data_dir
from services.store.traces import TraceStore
from tests.fixtures.fault_server import CONTENT_FILTER_BODY, ECHO_HEADERS, FaultServer, Reply, chat_body, closed_port
from tests.fixtures.otlp_receiver import OtlpReceiver, Received, decoded

CHAT = "smollm2-135m-instruct"
KEY = "sk-otlp-test-0123456789abcdef"
HEADER_VALUE = "hdr-otlp-secret-9876543210"
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
PROMPT = "Name a colour of the sky in one word"
SYSTEM = "You answer in one word."


@pytest.fixture(autouse=True)
def _no_outside_otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only what a test sets: no OTEL_* from the developer's shell, batches sent within 20 ms."""
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
    yield
    tracing.flush()


@pytest.fixture
def to_receiver(monkeypatch: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver) -> OtlpReceiver:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_receiver.url)
    return otlp_receiver


def store_spans(trace_id: str) -> list[dict[str, Any]]:
    assert tracing.flush()
    return TraceStore(data_dir() / tracing.TRACE_FILE).spans(trace_id)


def received_for(receiver: OtlpReceiver, rows: list[dict[str, Any]]) -> dict[str, Received]:
    """The received spans of `rows`, by span id (waiting for them to arrive)."""
    wanted = {row["span_id"] for row in rows}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = {span.span_id: span for span in receiver.spans() if span.span_id in wanted}
        if len(found) == len(wanted):
            return found
        time.sleep(0.02)
    raise AssertionError(f"the receiver got {len(found)} of {len(wanted)} spans")


def fault_client(endpoint: str) -> InferenceClient:
    deployment = Deployment(
        name="fault",
        endpoint=endpoint,
        key=KEY,
        key_source="environment",
        extra_headers={"x-team-token": HEADER_VALUE},
        price_per_1k_input=1.0,
        price_per_1k_output=2.0,
    )
    return InferenceClient(deployment, retry_policy=FAST)


def wire_bytes(receiver: OtlpReceiver) -> bytes:
    """Everything the receiver got: headers and bodies, decompressed."""
    found = b""
    for headers, body in zip(receiver.headers, receiver.bodies, strict=True):
        found += json.dumps(headers).encode() + decoded(body, headers.get("content-encoding"))
    return found


def test_chat_spans_arrive_with_genai_names_and_the_store_s_ids(
    local_deployments: dict[str, Deployment], to_receiver: OtlpReceiver
) -> None:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    with InferenceClient(local_deployments[CHAT]) as client, tracing.action("chat turn") as action:
        answer = client.chat(messages, max_tokens=6, temperature=0.0, top_p=0.9, seed=7, stop=["\n\n"])
        with client.stream_chat(messages, max_tokens=4, temperature=0.0) as stream:
            streamed = "".join(delta.content or "" for delta in stream)
    rows = store_spans(action.trace_id)
    assert [row["status"] for row in rows] == ["ok", "ok"]
    received = received_for(to_receiver, rows)

    endpoint_port = urlsplit(local_deployments[CHAT].endpoint).port
    assert endpoint_port is not None and endpoint_port != urlsplit(to_receiver.url).port
    for row in rows:
        span = received[row["span_id"]]
        assert span.trace_id == row["trace_id"] == action.trace_id
        assert span.span.kind == Span.SpanKind.SPAN_KIND_CLIENT
        assert (span.span.start_time_unix_nano, span.span.end_time_unix_nano) == (row["start_ns"], row["end_ns"])
        assert span.span.status.code == Status.StatusCode.STATUS_CODE_UNSET
        assert span.resource["service.name"] == "model-playground"
        model = row["request_model"] or row["deployment"]
        assert span.span.name == f"chat {model}"
        attributes = span.attributes
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] == attributes["gen_ai.system"] == "azure.ai.inference"
        assert attributes["gen_ai.response.model"] == row["response_model"]
        assert attributes["gen_ai.usage.input_tokens"] == row["input_tokens"] > 0
        assert attributes["gen_ai.usage.output_tokens"] == row["output_tokens"] > 0
        assert attributes["gen_ai.response.finish_reasons"] == [row["finish_reason"]]
        assert attributes["server.address"] == "127.0.0.1"
        assert attributes["server.port"] == endpoint_port
        assert attributes["http.response.status_code"] == 200
        assert attributes["gen_ai.request.temperature"] == 0.0
        assert attributes["playground.deployment"] == CHAT
        assert attributes["playground.action"] == "chat turn"
        assert attributes["playground.status"] == "ok"
        assert attributes["playground.request_id"] == row["request_id"]
        assert "error.type" not in attributes
        events = span.events()
        assert [name for name, _ in events] == ["gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice"]
        assert json.loads(events[0][1]["gen_ai.event.content"]) == {"role": "system", "content": SYSTEM}
        assert json.loads(events[1][1]["gen_ai.event.content"]) == {"role": "user", "content": PROMPT}
        assert all(event["gen_ai.system"] == "azure.ai.inference" for _, event in events)

    first, second = (received[row["span_id"]] for row in rows)
    assert first.attributes["gen_ai.request.max_tokens"] == 6
    assert first.attributes["gen_ai.request.top_p"] == 0.9
    assert first.attributes["gen_ai.request.seed"] == 7
    assert first.attributes["gen_ai.request.stop_sequences"] == ["\n\n"]
    assert second.attributes["gen_ai.request.max_tokens"] == 4 and "gen_ai.request.seed" not in second.attributes
    assert "gen_ai.response.time_to_first_chunk" in second.attributes
    choices = [json.loads(span.events()[-1][1]["gen_ai.event.content"]) for span in (first, second)]
    assert [choice["message"]["content"] for choice in choices] == [answer.content, streamed]
    assert [choice["finish_reason"] for choice in choices] == [row["finish_reason"] for row in rows]


def test_content_off_sends_timings_and_usage_without_any_message_text(
    monkeypatch: pytest.MonkeyPatch, local_deployments: dict[str, Deployment], to_receiver: OtlpReceiver
) -> None:
    monkeypatch.setenv(tracing.TRACE_CONTENT_ENV, "false")
    with InferenceClient(local_deployments[CHAT]) as client, tracing.action("chat turn") as action:
        answer = client.chat([{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}], max_tokens=5)
    [row] = store_spans(action.trace_id)
    span = received_for(to_receiver, [row])[row["span_id"]]
    assert span.events() == []
    assert span.attributes["gen_ai.usage.output_tokens"] == row["output_tokens"] > 0
    assert span.attributes["gen_ai.response.finish_reasons"] == [row["finish_reason"]]
    sent = wire_bytes(to_receiver)
    assert PROMPT.encode() not in sent and SYSTEM.encode() not in sent
    assert answer.content and answer.content.strip().encode() not in sent


def test_error_and_retried_attempts_are_error_spans_with_no_secret(
    monkeypatch: pytest.MonkeyPatch, fault_server: FaultServer, to_receiver: OtlpReceiver
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    limited = fault_server.scenario(
        Reply(status=429, json={"error": {"code": "429", "message": "slow down"}}, headers={"retry-after": "0"}),
        Reply(json=chat_body("Fine")),
    )
    filtered = fault_server.scenario(Reply(status=400, json=CONTENT_FILTER_BODY))
    echoed = fault_server.scenario(Reply(status=400, text=f"bad request, you sent {ECHO_HEADERS}"))
    with tracing.action("compare run") as action:
        with fault_client(limited.endpoint) as client:
            assert client.chat([{"role": "user", "content": "hi"}]).content == "Fine"
        with fault_client(filtered.endpoint) as client, pytest.raises(ContentFilterError):
            client.chat([{"role": "user", "content": "hi"}])
        with fault_client(echoed.endpoint) as client, pytest.raises(InvalidRequestError):
            client.chat([{"role": "user", "content": "hi"}])
    rows = store_spans(action.trace_id)
    received = received_for(to_receiver, rows)
    by_status: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_status.setdefault(row["status"], []).append(row)
    assert {"retried", "ok", "error"} <= set(by_status)

    retried = by_status["retried"][0]
    span = received[retried["span_id"]]
    assert span.span.status.code == Status.StatusCode.STATUS_CODE_ERROR
    assert span.attributes["http.response.status_code"] == 429
    assert span.attributes["error.type"] == (retried["error_type"] or "429")
    assert span.attributes["playground.attempt"] == 1
    ok = received[by_status["ok"][0]["span_id"]]
    assert ok.attributes["playground.attempt"] == 2 and ok.attributes["http.request.resend_count"] == 1
    assert ok.attributes["playground.cost"] == pytest.approx(by_status["ok"][0]["cost"])

    filter_row = next(row for row in by_status["error"] if row["error_type"] == "ContentFilterError")
    span = received[filter_row["span_id"]]
    assert span.span.status.code == Status.StatusCode.STATUS_CODE_ERROR
    assert span.span.status.message == filter_row["error"] and "content filter" in span.span.status.message
    assert span.attributes["error.type"] == "ContentFilterError"
    assert span.attributes["http.response.status_code"] == 400
    assert {span.trace_id for span in received.values()} == {action.trace_id}

    assert {headers.get("content-encoding") for headers in to_receiver.headers} == {"gzip"}
    sent = wire_bytes(to_receiver)
    sent_headers = json.dumps(echoed.requests[0].headers)
    assert KEY in sent_headers and HEADER_VALUE in sent_headers  # the endpoint had them, and echoed them back
    assert KEY.encode() not in sent and HEADER_VALUE.encode() not in sent
    assert not any(name in headers for headers in to_receiver.headers for name in ("api-key", "authorization"))


def test_collector_down_costs_the_chat_nothing_and_the_store_keeps_every_span(
    monkeypatch: pytest.MonkeyPatch, fault_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", down)
    # A collector that times out would hold an export for up to 3 s (and the SDK retries a refused connection).
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "3")
    caplog.set_level(logging.WARNING, logger=trace_otlp.__name__)
    scenario = fault_server.scenario(Reply(json=chat_body("Still here")))
    slowest = 0.0
    with tracing.action("chat turn") as action, fault_client(scenario.endpoint) as client:
        for _ in range(5):
            started = time.perf_counter()
            assert client.chat([{"role": "user", "content": "hi"}]).content == "Still here"
            assert tracing.flush(timeout=5)  # the writer has handed the spans to the exporter by now
            slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.5, f"a chat call took {slowest:.2f} s with the collector down"
    rows = TraceStore(data_dir() / tracing.TRACE_FILE).spans(action.trace_id)
    assert len(rows) == 5 and {row["status"] for row in rows} == {"ok"}

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(down in record.getMessage() for record in caplog.records):
        time.sleep(0.05)
    warnings = [record for record in caplog.records if down in record.getMessage()]
    assert warnings and warnings[0].levelno == logging.WARNING
    assert "still in the trace store" in warnings[0].getMessage()


def _ids_back_to_base64(value: Any) -> None:
    """What a collector's OTLP/JSON decoder does before protobuf's JSON parser sees the ids."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(item, str):
                value[key] = base64.b64encode(bytes.fromhex(item)).decode()
            else:
                _ids_back_to_base64(item)
    elif isinstance(value, list):
        for item in value:
            _ids_back_to_base64(item)


def test_otlp_json_parses_back_into_the_same_spans(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "team-playground")
    ok = fault_server.scenario(Reply(json=chat_body("Hello")))
    broken = fault_server.scenario(Reply(status=400, json=CONTENT_FILTER_BODY))
    with tracing.action("chat turn") as action:
        with fault_client(ok.endpoint) as client:
            client.chat([{"role": "user", "content": PROMPT}], temperature=0.5)
        with fault_client(broken.endpoint) as client, pytest.raises(ContentFilterError):
            client.chat([{"role": "user", "content": PROMPT}])
    rows = store_spans(action.trace_id)
    assert len(rows) == 2

    document = json.loads(trace_otlp.otlp_json(rows))
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert {span["traceId"] for span in spans} == {action.trace_id}
    assert sorted(span["spanId"] for span in spans) == sorted(row["span_id"] for row in rows)
    assert {span["kind"] for span in spans} == {3}  # SPAN_KIND_CLIENT, as an integer
    assert sorted(span.get("status", {}).get("code", 0) for span in spans) == [0, 2]  # unset, error
    resource = {item["key"]: item["value"] for item in document["resourceSpans"][0]["resource"]["attributes"]}
    assert resource["service.name"] == {"stringValue": "team-playground"}

    _ids_back_to_base64(document)
    request = json_format.ParseDict(document, ExportTraceServiceRequest())
    parsed = [span for scope in request.resource_spans[0].scope_spans for span in scope.spans]
    assert {span.span_id.hex(): span.trace_id.hex() for span in parsed} == {
        row["span_id"]: row["trace_id"] for row in rows
    }
    assert {span.name for span in parsed} == {"chat fault"}
    first = next(span for span in parsed if span.span_id.hex() == rows[0]["span_id"])
    assert first.start_time_unix_nano == rows[0]["start_ns"]
    assert KEY not in trace_otlp.otlp_json(rows) and HEADER_VALUE not in trace_otlp.otlp_json(rows)


def test_exporter_follows_the_environment(monkeypatch: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver) -> None:
    assert trace_otlp.exporter_from_env() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{otlp_receiver.url}/v1/traces")
    first = trace_otlp.exporter_from_env()
    assert first is not None and trace_otlp.exporter_from_env() is first
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert trace_otlp.exporter_from_env() is None
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    again = trace_otlp.exporter_from_env()
    assert again is not None and again is not first
    assert first.shutdown(timeout=2)


def test_a_text_completion_exports_its_prompt_and_text(
    local_deployments: dict[str, Deployment], to_receiver: OtlpReceiver
) -> None:
    prompt = "The sky is"
    with InferenceClient(local_deployments[CHAT]) as client, tracing.action("prompt run") as action:
        result = client.complete_text(prompt, max_tokens=4)
    [row] = store_spans(action.trace_id)
    span = received_for(to_receiver, [row])[row["span_id"]]
    assert span.attributes["gen_ai.operation.name"] == "text_completion"
    events = span.events()
    assert [name for name, _ in events] == ["gen_ai.user.message", "gen_ai.choice"]
    assert json.loads(events[0][1]["gen_ai.event.content"]) == {"role": "user", "content": prompt}
    assert json.loads(events[1][1]["gen_ai.event.content"])["message"]["content"] == result.text
