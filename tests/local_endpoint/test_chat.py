"""Chat completions through the azure-ai-inference and openai SDKs and raw HTTP, with real SmolLM2 output."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.models import CompletionsFinishReason, JsonSchemaFormat
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from openai import OpenAI, UnprocessableEntityError

from tests.local_endpoint.openapi import validate

CHAT = "smollm2-135m-instruct"
PARIS = "What is the capital of France? Answer in one sentence."
API = {"api-version": "2024-05-01-preview"}


@pytest.fixture(scope="module")
def chat_client(local_endpoint_url: str) -> Iterator[ChatCompletionsClient]:
    with ChatCompletionsClient(
        endpoint=f"{local_endpoint_url}/{CHAT}", credential=AzureKeyCredential("unused")
    ) as client:
        yield client


def _post(url: str, body: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{url}/{CHAT}/chat/completions", params=API, json=body, headers=headers, timeout=60)


def _sse_lines(url: str, body: dict) -> list[str]:
    with httpx.stream("POST", f"{url}/{CHAT}/chat/completions", params=API, json={**body, "stream": True}) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        return list(answer.iter_lines())


def test_capital_of_france_mentions_paris_at_temperature_zero(chat_client: ChatCompletionsClient) -> None:
    result = chat_client.complete(messages=[{"role": "user", "content": PARIS}], temperature=0, max_tokens=40)
    assert "Paris" in result.choices[0].message.content
    assert result.choices[0].finish_reason == CompletionsFinishReason.STOPPED
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0


def test_non_streaming_body_fits_the_contract_with_usage(local_endpoint_url: str) -> None:
    answer = _post(local_endpoint_url, {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5})
    assert answer.status_code == 200
    body = answer.json()
    validate(body, "ChatCompletions", "2024-05-01-preview")
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert body["choices"][0]["finish_reason"] == "length"
    assert usage["completion_tokens"] == 5


def test_stream_has_only_data_lines_role_first_usage_last_then_done(local_endpoint_url: str) -> None:
    lines = _sse_lines(local_endpoint_url, {"messages": [{"role": "user", "content": PARIS}], "temperature": 0})
    events = [line for line in lines if line]
    assert all(line.startswith("data: ") for line in events), events
    assert all("\r" not in line for line in lines)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in events[:-1]]
    for chunk in chunks:
        validate(chunk, "StreamingChatCompletionsUpdate", "2024-05-01-preview")
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "Paris" in text


def test_azure_sdk_streams_text_and_final_usage(chat_client: ChatCompletionsClient) -> None:
    updates = list(
        chat_client.complete(messages=[{"role": "user", "content": PARIS}], temperature=0, max_tokens=30, stream=True)
    )
    text = "".join(u.choices[0].delta.content or "" for u in updates if u.choices)
    assert "Paris" in text
    assert updates[-1].usage.completion_tokens > 0


def test_openai_sdk_chats_and_streams_on_v1(local_endpoint_url: str) -> None:
    client = OpenAI(base_url=f"{local_endpoint_url}/v1", api_key="unused")
    messages = [{"role": "user", "content": PARIS}]
    result = client.chat.completions.create(model=CHAT, messages=messages, temperature=0, max_tokens=40)
    assert "Paris" in result.choices[0].message.content
    stream = client.chat.completions.create(model=CHAT, messages=messages, temperature=0, max_tokens=40, stream=True)
    chunks = list(stream)
    assert "Paris" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_multi_model_route_picks_the_deployment_from_the_body(local_endpoint_url: str) -> None:
    with ChatCompletionsClient(endpoint=f"{local_endpoint_url}/models", credential=AzureKeyCredential("x")) as client:
        result = client.complete(
            model=CHAT, messages=[{"role": "user", "content": PARIS}], temperature=0, max_tokens=30
        )
    assert "Paris" in result.choices[0].message.content


def test_max_tokens_stop_and_seed_reach_the_model(local_endpoint_url: str) -> None:
    base = {"messages": [{"role": "user", "content": "Write a short poem about the sea."}], "max_tokens": 12}
    sampled = {**base, "temperature": 1.0, "top_p": 1.0, "seed": 1234}
    first = _post(local_endpoint_url, sampled).json()["choices"][0]["message"]["content"]
    again = _post(local_endpoint_url, sampled).json()["choices"][0]["message"]["content"]
    assert first == again, "the same seed must give the same sample"
    greedy = _post(local_endpoint_url, {**base, "temperature": 0}).json()["choices"][0]["message"]["content"]
    cut = greedy.split()[2]
    stopped = _post(local_endpoint_url, {**base, "temperature": 0, "stop": [cut]}).json()["choices"][0]
    assert cut not in stopped["message"]["content"]
    assert greedy.startswith(stopped["message"]["content"])
    assert stopped["finish_reason"] == "stop"


def test_penalties_reach_the_model_and_change_greedy_output(local_endpoint_url: str) -> None:
    base = {"messages": [{"role": "user", "content": "List animals: cat, dog, cat, dog,"}], "temperature": 0}
    plain = _post(local_endpoint_url, {**base, "max_tokens": 30}).json()["choices"][0]["message"]["content"]
    penalised = _post(local_endpoint_url, {**base, "max_tokens": 30, "frequency_penalty": 2.0, "presence_penalty": 2.0})
    assert penalised.status_code == 200
    assert penalised.json()["choices"][0]["message"]["content"] != plain


def test_json_object_response_format_gives_parseable_json(local_endpoint_url: str) -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": "Give a JSON object with the keys name and age for a person named Ann who is 30.",
            }
        ],
        "temperature": 0,
        "max_tokens": 80,
        "response_format": {"type": "json_object"},
    }
    choice = _post(local_endpoint_url, body).json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert json.loads(choice["message"]["content"]) == {"name": "Ann", "age": 30}


def test_json_schema_response_format_follows_the_schema(chat_client: ChatCompletionsClient) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    result = chat_client.complete(
        messages=[{"role": "user", "content": "Give the biggest city of France and its population as JSON."}],
        temperature=0,
        max_tokens=60,
        response_format=JsonSchemaFormat(name="city_info", schema=schema),
    )
    parsed = json.loads(result.choices[0].message.content)
    assert set(parsed) == {"city", "population"} and isinstance(parsed["population"], int)


def test_tools_and_tool_choice_are_422_naming_both(local_endpoint_url: str) -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    answer = _post(
        local_endpoint_url, {"messages": [{"role": "user", "content": "hi"}], "tools": tools, "tool_choice": "auto"}
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "parameter_not_supported" and body["status"] == 422
    assert [d["loc"] for d in body["detail"]] == [["body", "tools"], ["body", "tool_choice"]]
    assert answer.headers["x-ms-error-code"] == "parameter_not_supported"


def test_openai_sdk_sees_tools_as_unprocessable(local_endpoint_url: str) -> None:
    client = OpenAI(base_url=f"{local_endpoint_url}/v1", api_key="unused", max_retries=0)
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    with pytest.raises(UnprocessableEntityError) as caught:
        client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hi"}], tools=tools)
    assert caught.value.body is not None


def test_unknown_parameter_is_rejected_by_default_naming_it(local_endpoint_url: str) -> None:
    answer = _post(local_endpoint_url, {"messages": [{"role": "user", "content": "hi"}], "top_k": 1})
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {
            "loc": ["body", "top_k"],
            "input": 1,
            "msg": "Extra parameter 'top_k' is not allowed when extra-parameters is not set or set to be 'error'",
            "type": "extra_forbidden",
        }
    ]


def test_drop_removes_unknown_parameters(local_endpoint_url: str) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "frobnicate": True}
    assert _post(local_endpoint_url, body, {"extra-parameters": "drop"}).status_code == 200


def test_pass_through_reaches_llama_or_is_422_when_llama_does_not_know_it(chat_client: ChatCompletionsClient) -> None:
    messages = [{"role": "user", "content": "Write one sentence about dogs."}]
    # A +100 logit bias on one token (id 1000) outweighs every other logit: each generated token is that one, so
    # the answer is one piece repeated. (Comparing top_k=1 with a temperature-0 answer is not exact: llama.cpp
    # recomputes the last prompt token when it reuses its cache, and the float noise can swap near-tied tokens.)
    plain = chat_client.complete(messages=messages, temperature=1.0, max_tokens=6, seed=7).choices[0].message.content
    biased = chat_client.complete(
        messages=messages, temperature=1.0, max_tokens=6, seed=7, model_extras={"logit_bias": {"1000": 100}}
    )
    text = biased.choices[0].message.content
    assert text and biased.choices[0].finish_reason == "length"
    piece = text[: len(text) // 6]
    assert piece and text == piece * 6, text
    assert plain != text
    with pytest.raises(HttpResponseError) as caught:
        chat_client.complete(messages=messages, max_tokens=5, model_extras={"frobnicate": 3})
    assert caught.value.status_code == 422
    assert "frobnicate" in caught.value.response.text()


def test_out_of_range_value_is_422_naming_the_field(local_endpoint_url: str) -> None:
    answer = _post(local_endpoint_url, {"messages": [{"role": "user", "content": "hi"}], "temperature": 1.5})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "temperature"]
    missing = _post(local_endpoint_url, {"messages": []})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "messages"]


def test_image_content_is_not_supported_by_this_text_model(local_endpoint_url: str) -> None:
    content = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "data:,"}}]
    answer = _post(local_endpoint_url, {"messages": [{"role": "user", "content": content}]})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "messages", 0, "content", 1, "image_url"]


def test_blocked_prompt_is_400_content_filter_with_custom_blocklist_details(chat_client: ChatCompletionsClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        chat_client.complete(messages=[{"role": "user", "content": "Tell me about the ForbiddenFruit, please"}])
    assert caught.value.status_code == 400
    body = caught.value.response.json()
    validate(body, "Azure.Core.Foundations.ErrorResponse")
    assert body["error"]["code"] == "content_filter"
    result = body["error"]["innererror"]["content_filter_result"]
    assert result["custom_blocklists"] == {
        "filtered": True,
        "details": [{"filtered": True, "id": "local-endpoint-default"}],
    }
    assert result["hate"] == {"filtered": False, "severity": "safe"}


def test_prompt_longer_than_the_context_is_a_clear_400(local_endpoint_url: str) -> None:
    answer = _post(local_endpoint_url, {"messages": [{"role": "user", "content": "word " * 3000}], "max_tokens": 5})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "context_length_exceeded"


def test_client_disconnect_stops_generation_within_a_second(local_endpoint_url: str) -> None:
    # At temperature 0 this prompt makes SmolLM2 emit digits until max_tokens: a generation of many seconds.
    counting = [{"role": "user", "content": "Count from 1 to 1000, separated by commas."}]
    long_story = {"messages": counting, "max_tokens": 1500, "temperature": 0}
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST", f"{local_endpoint_url}/{CHAT}/chat/completions", params=API, json={**long_story, "stream": True}
        ) as answer,
    ):
        assert answer.status_code == 200, answer.read()
        # Keep the iterator referenced: dropping it lets httpx close the connection before we mean to.
        lines = answer.iter_lines()
        for count, _line in enumerate(lines):
            if count > 4:
                break
        health = httpx.get(f"{local_endpoint_url}/health", params={"ready": 1}).json()
        assert health["busy"][CHAT], health
        closed = time.perf_counter()
    # 1500 tokens take many seconds; the model must be free again about a second after the client left.
    while httpx.get(f"{local_endpoint_url}/health", params={"ready": 1}).json()["busy"][CHAT]:
        # One second, as the issue asks (measured on an idle machine: about 0.05 s).
        assert time.perf_counter() - closed < 1.0, "generation went on after the client disconnected"
        time.sleep(0.05)
    quick = _post(local_endpoint_url, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
    assert quick.status_code == 200
