"""InferenceClient against the real fault server on loopback: every error shape, retries, streams that break."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from services.client import InferenceClient
from services.config import Deployment
from services.errors import (
    AuthenticationError,
    ContentFilterError,
    EndpointUnavailableError,
    InvalidRequestError,
    MalformedResponseError,
    ModalityNotSupportedError,
    RateLimitError,
    StreamInterruptedError,
    UnsupportedParameterError,
)
from services.retry import RetryPolicy
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_body, chat_chunks, closed_port

KEY = "sk-fault-test-0123456789"
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
HI = [{"role": "user", "content": "hi"}]


def client_for(scenario: Scenario | str, **fields: Any) -> InferenceClient:
    endpoint = scenario if isinstance(scenario, str) else scenario.endpoint
    values: dict[str, Any] = {"name": "fault", "endpoint": endpoint, "key": KEY, "key_source": "environment"}
    values.update(fields)
    return InferenceClient(Deployment(**values), retry_policy=FAST)


def raised(scenario: Scenario, call: str = "chat", **fields: Any) -> Exception:
    client = client_for(scenario, **fields)
    with pytest.raises(Exception) as info:
        if call == "chat":
            client.chat(HI, response_format="json_object", seed=None)
        elif call == "embed_images":
            client.embed_images([b"\x89PNG\r\n\x1a\n" + b"0" * 16])
        else:
            client.embed(["a"])
    client.close()
    error = info.value
    assert KEY not in str(error) and KEY not in repr(error)
    assert "fault" in str(error) and "\n" not in str(error)
    return error


def test_chat_returns_typed_result_with_request_id_sent(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("Hello there")))
    with client_for(scenario) as client:
        result = client.chat(HI, max_tokens=5)
    sent = scenario.requests[0]
    assert result.content == "Hello there" and result.finish_reason == "stop"
    assert result.usage is not None and result.usage.total_tokens == 7
    assert result.metrics.request_id == sent.headers["x-ms-client-request-id"]
    assert result.metrics.total_s > 0 and not result.metrics.tokens_estimated
    assert sent.path == "/chat/completions" and sent.query == "api-version=2024-05-01-preview"
    assert sent.json() == {"messages": HI, "max_tokens": 5}


def test_422_detail_object_gives_unsupported_parameter(fault_server: FaultServer) -> None:
    body = {
        "status": 422,
        "code": "parameter_not_supported",
        "detail": {"loc": ["body", "response_format"], "input": "json_object"},
        "message": "One of the parameters contain invalid values.",
    }
    error = raised(fault_server.scenario(Reply(status=422, json=body)))
    assert isinstance(error, UnsupportedParameterError)
    assert (error.param, error.value, error.status, error.code) == (
        "response_format",
        "json_object",
        422,
        "parameter_not_supported",
    )


def test_422_detail_list_gives_unsupported_parameter_with_sent_value(fault_server: FaultServer) -> None:
    detail = [{"loc": ["body", "response_format", "type"], "msg": "not supported", "type": "value_error"}]
    error = raised(fault_server.scenario(Reply(status=422, json={"detail": detail})))
    assert isinstance(error, UnsupportedParameterError)
    assert error.param == "response_format" and error.value == {"type": "json_object"}


def test_400_extra_parameters_message_gives_param_and_value(fault_server: FaultServer) -> None:
    message = (
        "Extra parameters ['top_k'] are not allowed when extra-parameters is not set or set to be 'error'. "
        "Set extra-parameters to 'pass-through' to pass to the model."
    )
    scenario = fault_server.scenario(Reply(status=400, json={"detail": message}))
    with client_for(scenario) as client, pytest.raises(UnsupportedParameterError) as info:
        client.chat(HI, model_extras={"top_k": 3}, extra_parameters="error")
    assert info.value.param == "top_k" and info.value.value == 3
    assert scenario.requests[0].headers["extra-parameters"] == "error"


def test_documented_content_filter_body_gives_content_filter_error(fault_server: FaultServer) -> None:
    body = {"status": 400, "code": "content_filter", "message": "The response was filtered", "param": "messages"}
    error = raised(fault_server.scenario(Reply(status=400, json=body)))
    assert isinstance(error, ContentFilterError) and error.code == "content_filter" and error.categories == {}


def test_innererror_content_filter_body_gives_per_category_results(fault_server: FaultServer) -> None:
    results = {
        "hate": {"filtered": False, "severity": "safe"},
        "violence": {"filtered": True, "severity": "medium"},
        "jailbreak": {"filtered": True, "detected": True},
        "custom_blocklists": {"filtered": True, "details": [{"filtered": True, "id": "mylist"}]},
    }
    body = {
        "error": {
            "code": "content_filter",
            "message": "The prompt was filtered",
            "param": "prompt",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results},
        }
    }
    error = raised(fault_server.scenario(Reply(status=400, json=body)))
    assert isinstance(error, ContentFilterError)
    assert error.categories["violence"] == {"filtered": True, "severity": "medium"}
    assert error.filtered_categories == ["violence", "jailbreak", "custom_blocklists"]
    assert "violence" in str(error)


@pytest.mark.parametrize(
    "body",
    [
        {"statusCode": 401, "message": "Auth token validation failed. Please provide a valid key or a valid AAD token"},
        {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint."}},
    ],
    ids=["serverless", "azure-openai"],
)
def test_401_bodies_give_authentication_error_naming_key_source(fault_server: FaultServer, body: dict) -> None:
    error = raised(fault_server.scenario(Reply(status=401, json=body)))
    assert isinstance(error, AuthenticationError) and error.status == 401
    assert error.key_source == "environment" and "environment" in str(error)
    assert body.get("message", "Access denied")[:20] in error.message or "Access denied" in error.message


def test_401_echoing_the_key_is_redacted(fault_server: FaultServer) -> None:
    error = raised(fault_server.scenario(Reply(status=401, json={"message": f"bad key {KEY}"})))
    assert "***" in str(error)


def test_plain_text_404_gives_modality_not_supported(fault_server: FaultServer) -> None:
    error = raised(fault_server.scenario(Reply(status=404, text="NOT FOUND")), call="embed_images")
    assert isinstance(error, ModalityNotSupportedError) and error.route == "/images/embeddings"


def test_json_424_gives_modality_not_supported(fault_server: FaultServer) -> None:
    error = raised(fault_server.scenario(Reply(status=424, json={"detail": "Not Found"})), call="embed")
    assert isinstance(error, ModalityNotSupportedError) and error.route == "/embeddings"


def test_other_4xx_gives_invalid_request(fault_server: FaultServer) -> None:
    body = {"error": {"code": "BadRequest", "message": "messages must not be empty"}}
    error = raised(fault_server.scenario(Reply(status=400, json=body, headers={"x-ms-error-code": "BadRequest"})))
    assert type(error) is InvalidRequestError and error.code == "BadRequest"


def test_429_with_retry_after_waits_then_succeeds(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(
        Reply(status=429, json={"error": {"code": "429", "message": "slow down"}}, headers={"Retry-After": "1"}),
        Reply(json=chat_body()),
    )
    started = time.perf_counter()
    with client_for(scenario) as client:
        result = client.chat(HI)
    assert time.perf_counter() - started >= 0.95
    assert result.content == "Hello!" and len(scenario.requests) == 2


@pytest.mark.parametrize("header", ["retry-after-ms", "x-ms-retry-after-ms"])
def test_429_honours_millisecond_retry_headers(fault_server: FaultServer, header: str) -> None:
    scenario = fault_server.scenario(Reply(status=429, json={}, headers={header: "300"}), Reply(json=chat_body()))
    started = time.perf_counter()
    with client_for(scenario) as client:
        client.chat(HI)
    assert 0.29 <= time.perf_counter() - started < 2 and len(scenario.requests) == 2


def test_429_beyond_budget_raises_rate_limit_with_retry_after(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=429, json={"message": "quota"}, headers={"retry-after-ms": "10"}))
    error = raised(scenario, max_retries=2)
    assert isinstance(error, RateLimitError) and error.retry_after == pytest.approx(0.01)
    assert len(scenario.requests) == 3


def test_429_asking_for_a_long_wait_is_raised_at_once(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=429, json={"message": "quota"}, headers={"Retry-After": "600"}))
    error = raised(scenario)
    assert isinstance(error, RateLimitError) and error.retry_after == 600 and len(scenario.requests) == 1


def test_503_then_success_is_retried(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=503, text="busy"), Reply(json=chat_body("ok")))
    with client_for(scenario) as client:
        assert client.chat(HI).content == "ok"
    assert len(scenario.requests) == 2
    # Every attempt carries the same client request id.
    assert len({request.headers["x-ms-client-request-id"] for request in scenario.requests}) == 1


def test_persistent_503_gives_endpoint_unavailable_after_budget(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=503, json={"error": {"code": "ServiceUnavailable", "message": "x"}}))
    error = raised(scenario, max_retries=1)
    assert isinstance(error, EndpointUnavailableError) and error.status == 503 and len(scenario.requests) == 2


def test_400_is_not_retried(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=400, json={"message": "bad"}))
    raised(scenario)
    assert len(scenario.requests) == 1


def test_stream_yields_typed_deltas_and_assembles_result(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Hel", "lo", "!"])))
    with client_for(scenario) as client, client.stream_chat(HI, max_tokens=3) as stream:
        pieces = [delta.content for delta in stream if delta.content]
        result = stream.result
    assert pieces == ["Hel", "lo", "!"] and result.content == "Hello!" and result.finish_reason == "stop"
    assert result.metrics.ttft_s is not None and result.metrics.ttft_s <= result.metrics.total_s
    assert result.usage is not None and result.metrics.tokens_per_s and not result.metrics.tokens_estimated
    assert scenario.requests[0].headers["accept"] == "text/event-stream"
    assert scenario.requests[0].json()["stream"] is True


def test_stream_keeps_partial_text_when_connection_drops(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["one ", "two ", "three"]), drop_after=3))
    client = client_for(scenario)
    stream = client.stream_chat(HI)
    seen: list[str] = []
    with pytest.raises(StreamInterruptedError) as info:
        for delta in stream:
            seen.append(delta.content or "")
    assert seen == ["one ", "two "] and stream.text == "one two "
    assert stream.result.content == "one two " and stream.result.finish_reason is None
    assert isinstance(info.value, EndpointUnavailableError) and "8 characters" in str(info.value)
    assert len(scenario.requests) == 1  # never retried after the first byte
    client.close()


def test_stream_ending_without_finish_is_interrupted(fault_server: FaultServer) -> None:
    items = chat_chunks(["a", "b"])[:-2]  # no finish chunk, no [DONE]
    stream = client_for(fault_server.scenario(Reply(sse=items))).stream_chat(HI)
    with pytest.raises(StreamInterruptedError):
        list(stream)
    assert stream.text == "ab"


def test_stream_503_before_first_byte_is_retried(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=503, json={}), Reply(sse=chat_chunks(["ok"])))
    with client_for(scenario).stream_chat(HI) as stream:
        assert "".join(d.content or "" for d in stream) == "ok"
    assert len(scenario.requests) == 2


def test_slow_first_byte_raises_read_timeout_without_retry(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body(), first_byte_delay=1.0))
    started = time.perf_counter()
    error = raised(scenario, read_timeout=0.2)
    assert isinstance(error, EndpointUnavailableError) and "read timeout after 0.2 s" in error.reason
    assert time.perf_counter() - started < 0.9 and len(scenario.requests) == 1


def test_stalled_stream_raises_interrupted_after_partial_text(fault_server: FaultServer) -> None:
    items = chat_chunks(["fast", "slow"])
    scenario = fault_server.scenario(Reply(sse=[*items[:2], 0.8, *items[2:]]))
    stream = client_for(scenario, read_timeout=0.3).stream_chat(HI)
    with pytest.raises(StreamInterruptedError) as info:
        list(stream)
    assert stream.text == "fast" and "read timeout" in info.value.reason


def test_malformed_sse_chunk_raises_after_earlier_text(fault_server: FaultServer) -> None:
    items = [*chat_chunks(["good"])[:2], "data: {not json\n\n", *chat_chunks(["never"])[1:]]
    stream = client_for(fault_server.scenario(Reply(sse=items))).stream_chat(HI)
    seen = []
    with pytest.raises(MalformedResponseError):
        for delta in stream:
            seen.append(delta.content)
    assert seen == ["good"] and stream.text == "good"


def test_sse_with_comments_event_id_lines_and_crlf_is_decoded(fault_server: FaultServer) -> None:
    raw = (
        ': keep-alive\r\n\r\nevent: message\r\nid: 1\r\ndata: {"choices":[{"delta":{"content":"A"}}]}\r\n\r\n'
        'retry: 10\r\ndata: {"choices":[{"delta":{"content":"B"},"finish_reason":"stop"}]}\r\n\r\ndata: [DONE]\r\n\r\n'
    )
    stream = client_for(fault_server.scenario(Reply(sse=[raw[:37], raw[37:90], raw[90:]]))).stream_chat(HI)
    assert [d.content for d in stream] == ["A", "B"] and stream.result.finish_reason == "stop"


def test_error_event_inside_stream_raises_typed_error(fault_server: FaultServer) -> None:
    items = [*chat_chunks(["x"])[:2], {"error": {"code": "content_filter", "message": "filtered", "status": 400}}]
    stream = client_for(fault_server.scenario(Reply(sse=items))).stream_chat(HI)
    with pytest.raises(ContentFilterError):
        list(stream)
    assert stream.text == "x"


def test_closing_stream_stops_at_once_and_marks_result_stopped(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks([f"w{i} " for i in range(200)]), chunk_delay=0.05))
    stream = client_for(scenario).stream_chat(HI)
    first = [next(stream).content, next(stream).content]
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 0.2
    assert first == ["w0 ", "w1 "] and stream.result.stopped and stream.result.content == "w0 w1 "
    assert list(stream) == []
    assert stream._response.is_closed


def test_content_filter_finish_in_200_is_a_flag_not_an_error(fault_server: FaultServer) -> None:
    with client_for(fault_server.scenario(Reply(json=chat_body("", finish="content_filter")))) as client:
        result = client.chat(HI)
    assert result.content_filtered and result.finish_reason == "content_filter"


def test_streamed_tool_calls_are_assembled(fault_server: FaultServer) -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    items = [
        {"choices": [{"delta": {"role": "assistant", "tool_calls": [call]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}}]},
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
        "data: [DONE]\n\n",
    ]
    stream = client_for(fault_server.scenario(Reply(sse=items))).stream_chat(HI, tools=[{"type": "function"}])
    deltas = list(stream)
    assert deltas[0].tool_calls and deltas[0].tool_calls[0].id == "call_1"
    (tool,) = stream.result.tool_calls
    assert (tool.id, tool.function.name, tool.function.arguments) == ("call_1", "get_weather", '{"city":"Oslo"}')
    assert stream.result.metrics.tokens_estimated  # no usage was reported


def test_unreachable_port_gives_endpoint_unavailable_after_retries() -> None:
    port = closed_port()
    client = client_for(f"http://127.0.0.1:{port}/x", max_retries=2)
    started = time.perf_counter()
    with pytest.raises(EndpointUnavailableError) as info:
        client.info()
    assert "cannot connect" in info.value.reason and info.value.host == f"127.0.0.1:{port}"
    assert info.value.status is None and time.perf_counter() - started < 2
    assert KEY not in str(info.value)


def test_non_json_200_gives_malformed_response(fault_server: FaultServer) -> None:
    error = raised(fault_server.scenario(Reply(text="<html>proxy</html>", content_type="text/html")))
    assert isinstance(error, MalformedResponseError)


def test_info_and_list_models(fault_server: FaultServer) -> None:
    info = {"model_name": "m", "model_type": "chat-completion", "model_provider_name": "p"}
    scenario = fault_server.scenario(Reply(json=info))
    with client_for(scenario) as client:
        assert client.info().model_type == "chat-completion"
    models = fault_server.scenario(Reply(json={"object": "list", "data": [{"id": "a"}, {"id": "b"}]}), model_list=None)
    with client_for(models, api="openai") as client:
        assert client.list_models() == ["a", "b"]
    assert models.requests[0].path == "/models" and models.requests[0].query == ""


def test_connections_are_pooled_across_calls(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body()))
    ports = set()
    with client_for(scenario) as client:
        for _ in range(3):
            client.chat(HI)
            pool = client._http._transport._pool  # type: ignore[attr-defined]
            ports.update(id(connection) for connection in pool.connections)
    assert len(ports) == 1
    assert isinstance(client._http, httpx.Client)


def test_closing_from_another_thread_stops_the_reader_quietly(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks([f"w{i} " for i in range(200)]), chunk_delay=0.05))
    stream = client_for(scenario).stream_chat(HI)
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(sum(1 for _ in stream))
        except Exception as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.25)
    stream.close()
    reader.join(timeout=2)
    assert not reader.is_alive() and isinstance(outcome[0], int) and 0 < outcome[0] < 200
    assert stream.result.stopped and stream.text.startswith("w0 w1 ")


def test_close_from_another_thread_interrupts_a_read_waiting_for_the_next_token(fault_server: FaultServer) -> None:
    items = chat_chunks(["first ", "late"])
    items.insert(2, 10.0)  # the server goes silent for 10 s after the first piece
    scenario = fault_server.scenario(Reply(sse=items))
    stream = client_for(scenario).stream_chat(HI)
    reader = threading.Thread(target=lambda: sum(1 for _ in stream))
    reader.start()
    time.sleep(0.3)
    closed_at = time.perf_counter()
    stream.close()
    reader.join(timeout=3)
    assert not reader.is_alive() and time.perf_counter() - closed_at < 1.0
    assert stream.text == "first " and stream.result.stopped


def test_metrics_of_a_stopped_stream_freeze_and_give_a_sane_rate(fault_server: FaultServer) -> None:
    pieces = [f"w{i} " for i in range(200)]
    scenario = fault_server.scenario(Reply(sse=chat_chunks(pieces), chunk_delay=0.02))
    stream = client_for(scenario).stream_chat(HI)
    received = 0
    for delta in stream:
        received += bool(delta.content)
        if received == 10:
            break
    stream.close()
    first = stream.result.metrics
    time.sleep(0.2)
    again = stream.result.metrics
    assert again.total_s == first.total_s  # the clock stopped with the stream
    # About 50 chunks a second arrive; a rate from the first-to-last token window stays near that, far from 1000s.
    assert first.tokens_estimated and first.tokens_per_s is not None and 5 < first.tokens_per_s < 200


def test_a_stream_closed_from_another_thread_is_always_marked_stopped(fault_server: FaultServer) -> None:
    # The reader checks for close() between chunks; whichever side wins that race, the answer must say "stopped".
    scenario = fault_server.scenario(Reply(sse=chat_chunks([f"w{i} " for i in range(400)]), chunk_delay=0.001))
    client = client_for(scenario)
    for _ in range(25):
        stream = client.stream_chat(HI)
        reader = threading.Thread(target=lambda s=stream: sum(1 for _ in s))
        reader.start()
        while not stream.text:
            time.sleep(0.001)
        stream.close()
        reader.join(timeout=3)
        assert not reader.is_alive() and stream.result.stopped and stream.result.finish_reason is None
