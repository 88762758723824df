"""OpenAI's classic `/completions` on the embedded endpoint: SmolLM2's raw continuation through raw HTTP and the
`openai` SDK, streamed and not, with echo, stop, seed, the parameters it refuses and chat's keys, filter and queue."""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai import OpenAI, UnprocessableEntityError
from openai.types import Completion

from local_endpoint.completion_request import DEFAULT_MAX_TOKENS, CompletionRequest, parse_completion
from tests.local_endpoint.conftest import STRICT_KEY
from tests.local_endpoint.test_parsers_fuzz import FUZZ, either, modes, numbers, perturbed, typed_outcome

CHAT = "smollm2-135m-instruct"
TEXT = "all-minilm-l6-v2"
IMAGE = "image-descriptor"
API = {"api-version": "2024-05-01-preview"}
FRANCE = "The capital of France is"
STORY = "Once upon a time"


def _post(url: str, body: dict[str, Any], *, path: str = f"{CHAT}/completions", **kw: Any) -> httpx.Response:
    params = kw.pop("params", API)
    return httpx.post(f"{url}/{path}", params=params, json=body, timeout=60, **kw)


def _events(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> list[str]:
    """The non-empty lines of a streamed answer (checked to be an event stream)."""
    with httpx.stream(
        "POST", f"{url}/{CHAT}/completions", params=API, json={**body, "stream": True}, headers=headers, timeout=60
    ) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("text/event-stream")
        return [line for line in answer.iter_lines() if line]


def _chunks(events: list[str]) -> list[dict[str, Any]]:
    assert all(line.startswith("data: ") for line in events), events
    assert events[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in events[:-1]]


def _text(chunks: list[dict[str, Any]]) -> str:
    return "".join(chunk["choices"][0]["text"] for chunk in chunks)


def test_the_raw_prompt_is_continued_without_the_chat_template(local_endpoint_url: str) -> None:
    answer = _post(local_endpoint_url, {"prompt": FRANCE, "temperature": 0, "max_tokens": 10})
    assert answer.status_code == 200
    body = answer.json()
    parsed = Completion.model_validate(body)  # the openai SDK's own type for this answer
    assert parsed.object == "text_completion" and parsed.id.startswith("cmpl-")
    assert parsed.model == "SmolLM2-135M-Instruct"
    choice = body["choices"][0]
    assert "Paris" in choice["text"] and choice["logprobs"] is None
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert 0 < usage["completion_tokens"] <= 10
    # The same words as a chat message go through the template (role markers, a default system prompt): far more.
    chat = _post(
        local_endpoint_url,
        {"messages": [{"role": "user", "content": FRANCE}], "max_tokens": 1},
        path=f"{CHAT}/chat/completions",
    ).json()
    assert usage["prompt_tokens"] <= 8 < chat["usage"]["prompt_tokens"]


def test_without_max_tokens_a_continuation_is_openais_sixteen_tokens(local_endpoint_url: str) -> None:
    body = _post(local_endpoint_url, {"prompt": STORY, "temperature": 0}).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == DEFAULT_MAX_TOKENS == 16


def test_stream_is_text_completion_chunks_with_finish_and_usage_last_then_done(local_endpoint_url: str) -> None:
    request = {"prompt": STORY, "temperature": 0, "max_tokens": 12}
    events = _events(local_endpoint_url, request)
    chunks = _chunks(events)
    # Pieces carry finish_reason null (the SDK reads them unvalidated); the last one is a whole Completion.
    assert {chunk["object"] for chunk in chunks} == {"text_completion"}
    Completion.model_validate(chunks[-1])
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 12
    assert "usage" not in chunks[0]
    whole = _post(local_endpoint_url, request).json()["choices"][0]["text"]
    assert _text(chunks) == whole and whole


def test_echo_puts_the_prompt_before_the_continuation(local_endpoint_url: str) -> None:
    request = {"prompt": FRANCE, "temperature": 0, "max_tokens": 6}
    plain = _post(local_endpoint_url, request).json()["choices"][0]["text"]
    echoed = _post(local_endpoint_url, {**request, "echo": True}).json()
    assert echoed["choices"][0]["text"] == FRANCE + plain
    assert echoed["usage"]["completion_tokens"] <= 6  # the echoed prompt is not generated
    chunks = _chunks(_events(local_endpoint_url, {**request, "echo": True}))
    assert chunks[0]["choices"][0]["text"] == FRANCE
    assert _text(chunks) == FRANCE + plain


def test_stop_ends_the_text_before_the_stop_sequence(local_endpoint_url: str) -> None:
    request = {"prompt": STORY, "temperature": 0, "max_tokens": 16}
    free = _post(local_endpoint_url, request).json()["choices"][0]["text"]
    stop = " " + free.split()[4]  # a word the model is known to write, well inside its answer
    expected = free[: free.index(stop)]
    assert expected.strip()
    stopped = _post(local_endpoint_url, {**request, "stop": [stop, "never-written-stop"]}).json()
    assert stopped["choices"][0]["text"] == expected
    assert stopped["choices"][0]["finish_reason"] == "stop"
    assert _text(_chunks(_events(local_endpoint_url, {**request, "stop": stop}))) == expected


def test_a_seed_repeats_a_sampled_continuation(local_endpoint_url: str) -> None:
    request = {"prompt": STORY, "temperature": 1.0, "top_p": 0.95, "max_tokens": 12, "seed": 1234}
    first, second = (_post(local_endpoint_url, request).json()["choices"][0]["text"] for _ in range(2))
    assert first == second and first


def test_openai_sdk_creates_completions_streamed_and_not(local_endpoint_url: str) -> None:
    client = OpenAI(base_url=f"{local_endpoint_url}/v1", api_key="unused", max_retries=0)
    reply = client.completions.create(model=CHAT, prompt=FRANCE, max_tokens=8, temperature=0)
    assert "Paris" in reply.choices[0].text
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 8
    assert reply.choices[0].finish_reason in ("stop", "length")
    pieces = [
        chunk.choices[0].text
        for chunk in client.completions.create(model=CHAT, prompt=FRANCE, max_tokens=8, temperature=0, stream=True)
        if chunk.choices
    ]
    assert "".join(pieces) == reply.choices[0].text
    echoed = client.completions.create(model=CHAT, prompt=FRANCE, max_tokens=8, temperature=0, echo=True)
    assert echoed.choices[0].text == FRANCE + reply.choices[0].text


@pytest.mark.parametrize(("name", "value"), [("logprobs", 1), ("logprobs", 0), ("suffix", " and that is all.")])
def test_openai_sdk_sees_logprobs_and_suffix_as_unprocessable(local_endpoint_url: str, name: str, value: Any) -> None:
    client = OpenAI(base_url=f"{local_endpoint_url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(UnprocessableEntityError) as caught:
        client.completions.create(model=CHAT, prompt=FRANCE, max_tokens=2, **{name: value})
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "parameter_not_supported"
    assert body["detail"] == [
        {"loc": ["body", name], "input": value, "msg": body["detail"][0]["msg"], "type": "not_supported"}
    ]
    assert name in body["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("body", "loc", "code"),
    [
        ({}, "prompt", "invalid_input"),
        ({"prompt": ""}, "prompt", "invalid_input"),
        ({"prompt": 5}, "prompt", "invalid_input"),
        ({"prompt": ["one", "two"]}, "prompt", "parameter_not_supported"),
        ({"prompt": [1, 2, 3]}, "prompt", "parameter_not_supported"),
        ({"prompt": "x", "echo": "yes"}, "echo", "invalid_input"),
        ({"prompt": "x", "max_tokens": 0}, "max_tokens", "invalid_input"),
        ({"prompt": "x", "temperature": 1.5}, "temperature", "invalid_input"),  # the Azure routes' range is 0-1
        ({"prompt": "x", "stop": []}, "stop", "invalid_input"),
        ({"prompt": "x", "tools": []}, "tools", "parameter_not_supported"),  # not a completions parameter
    ],
)
def test_bad_bodies_are_422_naming_the_field(local_endpoint_url: str, body: dict, loc: str, code: str) -> None:
    answer = _post(local_endpoint_url, body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["x-ms-error-code"] == code
    assert answer.json()["detail"][0]["loc"] == ["body", loc]


def test_v1_takes_openais_range_and_fields_but_only_one_choice(local_endpoint_url: str) -> None:
    body = {"model": CHAT, "prompt": "x", "max_tokens": 1, "temperature": 1.5, "n": 1, "user": "u"}
    assert _post(local_endpoint_url, body, path="v1/completions", params=None).status_code == 200
    refused = _post(local_endpoint_url, {**body, "n": 2}, path="v1/completions", params=None)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "n"]


def test_extra_parameters_follow_the_header(local_endpoint_url: str) -> None:
    body = {"prompt": FRANCE, "max_tokens": 2, "top_k": 1}
    refused = _post(local_endpoint_url, body)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["type"] == "extra_forbidden"
    assert _post(local_endpoint_url, body, headers={"extra-parameters": "pass-through"}).status_code == 200
    assert _post(local_endpoint_url, body, headers={"extra-parameters": "drop"}).status_code == 200
    unknown = _post(local_endpoint_url, {**body, "wibble": 1}, headers={"extra-parameters": "pass-through"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "wibble"]


def test_azure_styles_need_an_api_version_and_v1_does_not(local_endpoint_url: str) -> None:
    for path in (f"{CHAT}/completions", "models/completions"):
        answer = _post(local_endpoint_url, {"model": CHAT, "prompt": "x"}, path=path, params=None)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "MissingApiVersionParameter"
    multi = _post(local_endpoint_url, {"model": CHAT, "prompt": FRANCE, "max_tokens": 2}, path="models/completions")
    assert multi.status_code == 200 and multi.json()["object"] == "text_completion"


@pytest.mark.parametrize("deployment", [TEXT, IMAGE])
def test_embedding_deployments_answer_completions_as_their_chat_route(local_endpoint_url: str, deployment: str) -> None:
    chat = _post(
        local_endpoint_url, {"messages": [{"role": "user", "content": "x"}]}, path=f"{deployment}/chat/completions"
    )
    for path, params in ((f"{deployment}/completions", API), ("v1/completions", None), ("models/completions", API)):
        answer = _post(local_endpoint_url, {"model": deployment, "prompt": "x"}, path=path, params=params)
        assert (answer.status_code, answer.text) == (chat.status_code, chat.text) == (404, "NOT FOUND")


def test_a_blocked_prompt_is_400_content_filter_on_prompt(local_endpoint_url: str) -> None:
    answer = _post(local_endpoint_url, {"prompt": "Tell me about forbiddenfruit", "max_tokens": 4})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("content_filter", "prompt")
    assert error["innererror"]["content_filter_result"]["custom_blocklists"]["filtered"] is True


def test_a_prompt_over_the_context_is_400_naming_tokens_and_window(limited_endpoint_url: str) -> None:
    answer = _post(limited_endpoint_url, {"prompt": "word " * 600, "max_tokens": 1})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("context_length_exceeded", "prompt")
    assert "512" in error["message"]


def test_a_key_is_required_when_configured(strict_endpoint_url: str) -> None:
    body = {"prompt": "Say", "max_tokens": 1}
    assert _post(strict_endpoint_url, body).status_code == 401
    assert _post(strict_endpoint_url, body, headers={"api-key": STRICT_KEY}).status_code == 200
    bearer = {"authorization": f"Bearer {STRICT_KEY}"}
    assert (
        _post(
            strict_endpoint_url, {**body, "model": CHAT}, path="v1/completions", params=None, headers=bearer
        ).status_code
        == 200
    )


def test_output_hitting_the_blocklist_ends_with_content_filter(strict_endpoint_url: str) -> None:
    # The strict endpoint blocks 'paris', which the model writes right after this prompt.
    request = {"prompt": FRANCE, "temperature": 0, "max_tokens": 10}
    headers = {"api-key": STRICT_KEY}
    chunks = _chunks(_events(strict_endpoint_url, request, headers))
    last = chunks[-1]["choices"][0]
    assert last["finish_reason"] == "content_filter"
    assert last["content_filter_results"]["custom_blocklists"]["details"] == [
        {"filtered": True, "id": "local-endpoint-environment"}
    ]
    assert "paris" not in _text(chunks).lower()
    plain = _post(strict_endpoint_url, request, headers=headers).json()["choices"][0]
    assert plain["finish_reason"] == "content_filter" and "paris" not in plain["text"].lower()


def _wait_until_idle(url: str, timeout_s: float = 10.0) -> None:
    """Until no request holds the chat model: an answer that stopped early (the content filter's) can leave its
    generation winding down for a moment after the client has the whole answer."""
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{url}/health", params={"ready": 1}).json()["busy"][CHAT]:
        assert time.monotonic() < deadline, "the chat model stayed busy"
        time.sleep(0.05)


def test_beyond_the_queue_completions_get_429_with_retry_after(strict_endpoint_url: str) -> None:
    # One request runs and one waits (LOCAL_ENDPOINT_MAX_QUEUE=1) only if nothing else holds the model at the start.
    _wait_until_idle(strict_endpoint_url)

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=30)) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"{strict_endpoint_url}/{CHAT}/completions",
                        params=API,
                        json={"prompt": "Say hi", "max_tokens": 2},
                        headers={"api-key": STRICT_KEY},
                    )
                    for _ in range(30)
                )
            )

    answers = asyncio.run(fire())
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "too_many_requests"


plausible_completion_fields = {
    "temperature": numbers,
    "top_p": numbers,
    "max_tokens": st.integers(-2, 50),
    "presence_penalty": numbers,
    "frequency_penalty": numbers,
    "stop": st.lists(st.text(max_size=5), max_size=3) | st.text(max_size=5),
    "seed": st.integers(),
    "stream": st.booleans(),
    "echo": st.booleans(),
    "logprobs": st.none() | st.integers(0, 5),
    "suffix": st.none() | st.text(max_size=4),
    "n": st.integers(0, 3),
    "best_of": st.integers(0, 3),
    "top_k": st.integers(-3, 50),
}
completion_bodies = perturbed(
    st.fixed_dictionaries(
        {"prompt": either(st.text(max_size=30), st.lists(st.text(max_size=5), max_size=2))},
        optional=plausible_completion_fields,
    ),
    sorted({*plausible_completion_fields, "prompt", "model", "user", "logit_bias"}),
)


@FUZZ
@given(body=completion_bodies, mode=modes, openai_style=st.booleans())
def test_completion_parser_raises_only_api_errors(body: Any, mode: str, openai_style: bool) -> None:
    outcome = typed_outcome(lambda: parse_completion(body, extra_mode=mode, openai_style=openai_style))
    if isinstance(outcome, CompletionRequest):
        assert isinstance(outcome.prompt, str) and outcome.prompt
        assert isinstance(outcome.stream, bool) and isinstance(outcome.echo, bool)
        for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
            assert math.isfinite(outcome.sampling[name])
        assert isinstance(outcome.sampling["max_tokens"], int) and outcome.sampling["max_tokens"] >= 1
        assert body.get("logprobs") is None and body.get("suffix") in (None, "")
