"""complete_text() and stream_complete_text() against the real embedded endpoint and the fault server: results,
streams that are stopped or cut, every error through chat's mapping, and the spans they leave."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services import tracing
from services.client import CompletionStream, InferenceClient
from services.config import Deployment
from services.errors import (
    ContentFilterError,
    MalformedResponseError,
    ModalityNotSupportedError,
    RateLimitError,
    StreamInterruptedError,
    UnsupportedParameterError,
)
from services.retry import RetryPolicy
from services.schemas import CompletionResult
from services.store.location import data_dir
from services.store.traces import TraceFilter, TraceStore
from tests.fixtures.fault_server import (
    CONTENT_FILTER_BODY,
    FaultServer,
    Reply,
    Scenario,
    chat_body,
    completion_body,
    completion_chunks,
)

CHAT = "smollm2-135m-instruct"
TEXT = "all-minilm-l6-v2"
FRANCE = "The capital of France is"
KEY = "sk-completion-test-0123456789"
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)


@pytest.fixture(scope="module")
def local(local_deployments: dict[str, Deployment]) -> Iterator[dict[str, InferenceClient]]:
    made = {name: InferenceClient(deployment) for name, deployment in local_deployments.items()}
    yield made
    for client in made.values():
        client.close()


def client_for(scenario: Scenario, **fields: Any) -> InferenceClient:
    values: dict[str, Any] = {"name": "fault", "endpoint": scenario.endpoint, "key": KEY, "key_source": "environment"}
    values.update(fields)
    return InferenceClient(Deployment(**values), retry_policy=FAST)


def spans() -> list[dict[str, Any]]:
    """Every recorded span of the one trace this test made."""
    assert tracing.flush(10), "the trace writer did not catch up"
    found = TraceStore(data_dir() / tracing.TRACE_FILE)
    traces = found.traces()
    assert len(traces) == 1, traces
    return found.spans(traces[0]["trace_id"])


# --- the embedded endpoint -------------------------------------------------------------------------------------------


def test_complete_text_continues_the_prompt(local: dict[str, InferenceClient]) -> None:
    result = local[CHAT].complete_text(FRANCE, max_tokens=8, temperature=0)
    assert isinstance(result, CompletionResult)
    assert "Paris" in result.text and result.finish_reason in ("stop", "length")
    assert result.model == "SmolLM2-135M-Instruct" and (result.response_id or "").startswith("cmpl-")
    assert result.usage is not None and 0 < result.usage.completion_tokens <= 8 and result.usage.prompt_tokens <= 8
    assert result.metrics.total_s > 0 and not result.metrics.tokens_estimated
    assert not result.stopped and not result.content_filtered and result.logprobs is None
    echoed = local[CHAT].complete_text(FRANCE, max_tokens=8, temperature=0, echo=True)
    assert echoed.text == FRANCE + result.text


def test_stream_complete_text_yields_pieces_and_the_same_result(local: dict[str, InferenceClient]) -> None:
    whole = local[CHAT].complete_text(FRANCE, max_tokens=10, temperature=0, stop=["\n\n"])
    with local[CHAT].stream_complete_text(FRANCE, max_tokens=10, temperature=0, stop="\n\n") as stream:
        assert isinstance(stream, CompletionStream)
        deltas = list(stream)
    pieces = [delta.content for delta in deltas if delta.content]
    result = stream.result
    assert pieces and "".join(pieces) == stream.text == result.text == whole.text
    assert deltas[-1].finish_reason == result.finish_reason == whole.finish_reason
    assert result.usage == whole.usage
    assert result.metrics.ttft_s is not None and 0 < result.metrics.ttft_s <= result.metrics.total_s
    assert result.metrics.tokens_per_s and not result.stopped


def test_closing_a_stream_keeps_what_arrived_and_says_stopped(local: dict[str, InferenceClient]) -> None:
    with tracing.action("prompt run"):
        stream = local[CHAT].stream_complete_text("Once upon a time", max_tokens=200, temperature=0)
        first = next(delta.content for delta in stream if delta.content)
        stream.close()
    result = stream.result
    assert result.stopped and result.text.startswith(first) and result.finish_reason is None
    [span] = spans()
    assert (span["operation"], span["status"]) == ("text_completion", "stopped")
    assert json.loads(span["answer"])["content"] == result.text


@pytest.mark.parametrize(("name", "value"), [("logprobs", 2), ("suffix", " The end.")])
def test_what_the_endpoint_refuses_is_an_unsupported_parameter(
    local: dict[str, InferenceClient], name: str, value: Any
) -> None:
    for call in (local[CHAT].complete_text, local[CHAT].stream_complete_text):
        with pytest.raises(UnsupportedParameterError) as caught:
            call(FRANCE, max_tokens=2, **{name: value})
        assert (caught.value.param, caught.value.value, caught.value.status) == (name, value, 422)
        assert not caught.value.invalid_value


def test_a_blocked_prompt_is_a_content_filter_error(local: dict[str, InferenceClient]) -> None:
    with pytest.raises(ContentFilterError) as caught:
        local[CHAT].complete_text("Write about forbiddenfruit", max_tokens=4)
    assert "custom_blocklists" in caught.value.filtered_categories


def test_an_embeddings_deployment_does_not_offer_completions(local: dict[str, InferenceClient]) -> None:
    for call in (local[TEXT].complete_text, local[TEXT].stream_complete_text):
        with pytest.raises(ModalityNotSupportedError) as caught:
            call("a cat", max_tokens=2)
        assert caught.value.route == "/completions" and caught.value.status == 404


def test_a_completion_is_one_text_completion_span(local: dict[str, InferenceClient]) -> None:
    with (
        tracing.action("prompt run"),
        local[CHAT].stream_complete_text(FRANCE, max_tokens=6, temperature=0, seed=7) as stream,
    ):
        for _ in stream:
            pass
    result = stream.result
    [span] = spans()
    request, answer = json.loads(span["request"]), json.loads(span["answer"])
    assert (span["operation"], span["status"], span["route"], span["http_status"]) == (
        "text_completion",
        "ok",
        "/completions",
        200,
    )
    assert span["action"] == "prompt run" and span["deployment"] == CHAT
    assert request == {"params": {"max_tokens": 6, "temperature": 0, "seed": 7}, "prompt": FRANCE}
    assert answer["content"] == result.text and answer["finish_reason"] == result.finish_reason
    assert answer["model"] == span["response_model"] == "SmolLM2-135M-Instruct"
    assert result.usage is not None
    assert (span["input_tokens"], span["output_tokens"]) == (result.usage.prompt_tokens, result.usage.completion_tokens)
    assert span["finish_reason"] == result.finish_reason
    assert span["ttft_s"] is not None and span["trace_id"] == result.metrics.trace_id
    found = TraceStore(data_dir() / tracing.TRACE_FILE)
    for words in ("Capital of France", result.text.strip()[:12]):  # the prompt and the answer are both searchable
        assert [t["trace_id"] for t in found.traces(TraceFilter(text=words))] == [span["trace_id"]], words


# --- the fault server ------------------------------------------------------------------------------------------------


def test_the_request_is_a_completions_body_with_the_params_sent(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=completion_body()), Reply(sse=completion_chunks(["a", "b"])))
    with client_for(scenario, model="tiny") as client:
        result = client.complete_text(
            FRANCE, max_tokens=5, stop="\n", echo=True, temperature=None, model_extras={"top_k": 3}
        )
        with client.stream_complete_text(FRANCE, suffix="!", extra_parameters="drop") as stream:
            assert stream.text == "" and "".join(d.content or "" for d in stream) == "ab"
    plain, streamed = scenario.requests
    assert (plain.path, streamed.path) == ("/completions", "/completions")
    assert "api-version=2024-05-01-preview" in plain.query
    assert plain.json() == {
        "prompt": FRANCE,
        "model": "tiny",
        "max_tokens": 5,
        "stop": ["\n"],
        "echo": True,
        "top_k": 3,
    }
    assert plain.headers["extra-parameters"] == "pass-through" and plain.headers["accept"] == "application/json"
    assert streamed.json() == {"prompt": FRANCE, "model": "tiny", "suffix": "!", "stream": True}
    assert streamed.headers["extra-parameters"] == "drop" and streamed.headers["accept"] == "text/event-stream"
    assert result.text == " Paris." and result.usage is not None and result.usage.total_tokens == 6


def test_openai_compatible_servers_are_asked_for_stream_usage(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=completion_chunks(["x"])))
    with client_for(scenario, api="openai") as client, client.stream_complete_text("p") as stream:
        list(stream)
    sent = scenario.requests[0]
    assert sent.json() == {"prompt": "p", "stream": True, "stream_options": {"include_usage": True}}
    assert "api-version" not in sent.query and "extra-parameters" not in sent.headers


def test_bad_arguments_fail_before_anything_is_sent(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=completion_body()))
    with client_for(scenario) as client:
        with pytest.raises(TypeError, match="prompt must be a str"):
            client.complete_text(["a", "b"])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="prompt is required"):
            client.stream_complete_text("")
        with pytest.raises(TypeError, match="unknown parameter 'tools'"):
            client.complete_text("p", tools=[])
    assert scenario.requests == []


def test_logprobs_are_kept_whole_and_joined_across_stream_chunks(fault_server: FaultServer) -> None:
    whole = {"tokens": [" Paris", "."], "token_logprobs": [-0.1, -0.2], "top_logprobs": None, "text_offset": [0, 6]}
    scenario = fault_server.scenario(
        Reply(json=completion_body(logprobs=whole)), Reply(sse=completion_chunks(["a", "bc"], logprobs=True))
    )
    with client_for(scenario) as client:
        assert client.complete_text("p", logprobs=1).logprobs == whole
        with client.stream_complete_text("p", logprobs=1) as stream:
            list(stream)
    assert stream.result.logprobs == {
        "tokens": ["a", "bc"],
        "token_logprobs": [-0.5, -0.5],
        "top_logprobs": [{"a": -0.5}, {"bc": -0.5}],
        "text_offset": [0, 1],
    }


def test_a_rate_limit_is_retried_and_counted(fault_server: FaultServer) -> None:
    limited = Reply(
        status=429, json={"error": {"code": "429", "message": "slow down"}}, headers={"retry-after-ms": "10"}
    )
    scenario = fault_server.scenario(limited, Reply(json=completion_body()))
    with tracing.action("prompt run"), client_for(scenario) as client:
        result = client.complete_text("p")
    assert result.text == " Paris." and result.metrics.retries == 1 and result.metrics.retry_reasons == ["429"]
    recorded = sorted(spans(), key=lambda span: span["attempt"])
    assert [(s["operation"], s["status"], s["http_status"]) for s in recorded] == [
        ("text_completion", "retried", 429),
        ("text_completion", "ok", 200),
    ]


def test_a_rate_limit_past_the_budget_is_a_rate_limit_error(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(
        Reply(status=429, json={"error": {"code": "429", "message": "slow down"}}, headers={"retry-after": "1"})
    )
    with client_for(scenario, max_retries=0) as client, pytest.raises(RateLimitError) as caught:
        client.stream_complete_text("p")
    assert caught.value.retry_after == 1 and len(scenario.requests) == 1


def test_a_422_names_the_parameter_and_a_400_filter_names_categories(fault_server: FaultServer) -> None:
    refused = {
        "status": 422,
        "code": "parameter_not_supported",
        "detail": [{"loc": ["body", "suffix"], "input": "!", "msg": "no FIM", "type": "not_supported"}],
        "message": "One of the parameters contain invalid values.",
    }
    scenario = fault_server.scenario(Reply(status=422, json=refused), Reply(status=400, json=CONTENT_FILTER_BODY))
    with client_for(scenario) as client:
        with pytest.raises(UnsupportedParameterError) as unsupported:
            client.complete_text("p", suffix="!")
        with pytest.raises(ContentFilterError) as filtered:
            client.complete_text("p")
    assert (unsupported.value.param, unsupported.value.value) == ("suffix", "!")
    assert filtered.value.filtered_categories == ["hate"]
    assert KEY not in str(unsupported.value) + str(filtered.value)


@pytest.mark.parametrize("status", [404, 405])
def test_a_server_without_the_route_is_modality_not_supported(fault_server: FaultServer, status: int) -> None:
    scenario = fault_server.scenario(Reply(status=status, text="Not Found"))
    with client_for(scenario) as client, pytest.raises(ModalityNotSupportedError) as caught:
        client.complete_text("p")
    assert caught.value.route == "/completions" and "/completions" in str(caught.value)


def test_a_cut_stream_raises_but_keeps_the_partial_text_and_records_it(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=completion_chunks(["Once", " upon", " a", " time"]), drop_after=2))
    with tracing.action("prompt run"), client_for(scenario) as client:
        stream = client.stream_complete_text("p")
        seen = []
        with pytest.raises(StreamInterruptedError):
            for delta in stream:
                seen.append(delta.content)
    assert seen == ["Once", " upon"] and stream.text == "Once upon" and stream.result.text == "Once upon"
    [span] = spans()
    assert (span["operation"], span["status"], span["error_type"]) == (
        "text_completion",
        "error",
        "StreamInterruptedError",
    )
    assert json.loads(span["answer"])["content"] == "Once upon"


def test_a_stream_ending_without_a_finish_is_interrupted(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=completion_chunks(["half"], done=False)[:-1]))
    with client_for(scenario) as client:
        stream = client.stream_complete_text("p")
        with pytest.raises(StreamInterruptedError, match="without a finish reason"):
            list(stream)
    assert stream.result.text == "half"


def test_a_filtered_finish_is_a_flag_not_an_error(fault_server: FaultServer) -> None:
    filters = {"custom_blocklists": {"filtered": True, "details": [{"filtered": True, "id": "x"}]}}
    chunks = completion_chunks(["The capital is "], finish="content_filter")
    chunks[-2]["choices"][0]["content_filter_results"] = filters
    body = completion_body("The capital is ", finish="content_filter")
    body["choices"][0]["content_filter_results"] = filters
    scenario = fault_server.scenario(Reply(json=body), Reply(sse=chunks))
    with client_for(scenario) as client:
        plain = client.complete_text("p")
        with client.stream_complete_text("p") as stream:
            list(stream)
    for result in (plain, stream.result):
        assert result.content_filtered and result.content_filter_results == filters
        assert result.text == "The capital is "


def test_a_chat_body_is_not_a_text_completion(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("Hello")))
    with client_for(scenario) as client, pytest.raises(MalformedResponseError, match="no choice with text"):
        client.complete_text("p")


def test_content_recording_off_keeps_no_prompt_or_text(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tracing.TRACE_CONTENT_ENV, "false")
    scenario = fault_server.scenario(Reply(sse=completion_chunks(["a confidential ", "continuation"])))
    prompt = "my private prompt words"
    with tracing.action("prompt run"), client_for(scenario) as client:
        stream = client.stream_complete_text(prompt, temperature=0.3, suffix="hidden suffix")
        list(stream)
    [span] = spans()
    assert json.loads(span["request"]) == {"params": {"temperature": 0.3}, "prompt_count": 1, "suffix_count": 1}
    assert "content" not in json.loads(span["answer"]) and span["output_tokens"] == 2
    raw = b"".join(path.read_bytes() for path in Path(data_dir()).glob("traces.sqlite*"))
    assert raw and b"private prompt" not in raw and b"confidential" not in raw and b"hidden suffix" not in raw
