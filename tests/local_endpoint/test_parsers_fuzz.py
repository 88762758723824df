"""Fuzzing the embedded endpoint's request parsers in-process: any body, query or header gets a typed error or a value.

The typed errors are `ApiError` (rendered as a 4xx response in the API's shapes), `ClientGone` for a client that
left mid-body, and `ValueError` naming the variable for a malformed `LOCAL_ENDPOINT_*` setting.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from local_endpoint.chat_request import LLAMA_EXTRAS, ROLES, ChatRequest, parse_chat
from local_endpoint.config import EndpointConfig
from local_endpoint.deployments import Deployment
from local_endpoint.embeddings_request import EmbeddingsRequest, parse_image_embeddings, parse_text_embeddings
from local_endpoint.errors import ApiError
from local_endpoint.http_common import (
    ClientGone,
    KeyAndRequestIdMiddleware,
    extra_parameters_mode,
    find_deployment,
    parse_json_body,
    read_json,
    require_api_version,
)
from local_endpoint.params import EXTRA_PARAMETER_MODES

# Fixed examples in CI so a run is repeatable; fresh ones on a developer's machine to keep exploring.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
# The small readers have few paths: fewer examples cover them.
FUZZ_SMALL = settings(FUZZ, max_examples=100)

# Values a JSON body can hold after read_json (which refuses NaN and Infinity).
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def either(*plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly plausible values for a field, sometimes any JSON at all."""
    return st.one_of(*plausible, json_values)


def perturbed(valid: st.SearchStrategy[dict[str, Any]], names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A mostly valid body as it is, or with one field (known or not) set to any JSON value, or anything at all."""
    setting = st.tuples(st.sampled_from(names) | st.text(max_size=6), json_values)
    return st.one_of(
        valid,
        st.tuples(valid, setting).map(lambda pair: {**pair[0], pair[1][0]: pair[1][1]}),
        json_values,
    )


content_items = st.lists(
    either(
        st.fixed_dictionaries({"type": st.just("text"), "text": either(st.text(max_size=20))}),
        st.fixed_dictionaries({"type": st.sampled_from(["image_url", "input_audio", "audio_url", "text", "video"])}),
    ),
    max_size=3,
)
message = either(
    st.fixed_dictionaries(
        {"role": either(st.sampled_from(sorted(ROLES))), "content": either(st.text(max_size=30), content_items)}
    ),
    st.fixed_dictionaries({"role": st.sampled_from(sorted(ROLES))}),
)
numbers = st.floats(min_value=-3, max_value=3, allow_nan=False) | st.integers(-3, 3)
schema_names = st.from_regex(r"[A-Za-z0-9_-]{1,70}", fullmatch=True) | st.text(max_size=4)
response_formats = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object", "json_schema", "xml"])}),
    st.fixed_dictionaries(
        {"type": st.just("json_schema"), "json_schema": either(st.fixed_dictionaries({"name": schema_names}))}
    ).map(
        lambda f: (
            {**f, "json_schema": {**f["json_schema"], "schema": {"type": "object"}}}
            if isinstance(f["json_schema"], dict)
            else f
        )
    ),
)
plausible_chat_fields = {
    "temperature": numbers,
    "top_p": numbers,
    "max_tokens": st.integers(-2, 50),
    "max_completion_tokens": st.integers(-2, 50),
    "presence_penalty": numbers,
    "frequency_penalty": numbers,
    "stop": st.lists(st.text(max_size=5), max_size=3) | st.text(max_size=5),
    "seed": st.integers(),
    "stream": st.booleans(),
    "response_format": response_formats,
    "n": st.integers(0, 3),
    "logit_bias": st.dictionaries(st.text(max_size=6), numbers | st.integers(), max_size=3),
    **{name: numbers | st.integers() for name in LLAMA_EXTRAS if name != "logit_bias"},
}
chat_names = sorted({*plausible_chat_fields, "messages", "tools", "tool_choice", "logprobs", "model", "user"})
chat_bodies = perturbed(
    st.fixed_dictionaries({"messages": st.lists(message, min_size=1, max_size=5)}, optional=plausible_chat_fields),
    chat_names,
)
data_urls = st.builds(
    lambda fmt, data: f"data:image/{fmt};base64,{data}",
    st.sampled_from(["png", "jpeg", "x+y", ""]),
    st.text(alphabet="ABCDabcd0123+/=", max_size=16) | st.text(max_size=8),
)
plausible_embedding_fields = {
    "dimensions": st.integers(-1, 400),
    "encoding_format": st.sampled_from(["float", "base64", "int8", "uint8", "binary", "ubinary", "hex"]),
    "input_type": st.sampled_from(["text", "query", "document", "code"]),
}
inputs = st.one_of(
    st.lists(either(st.text(max_size=20)), min_size=1, max_size=5),
    st.lists(either(st.fixed_dictionaries({"image": either(data_urls)})), min_size=1, max_size=4),
    st.text(max_size=10),
)
embedding_bodies = perturbed(
    st.fixed_dictionaries({"input": inputs}, optional=plausible_embedding_fields),
    sorted({*plausible_embedding_fields, "input", "model", "user"}),
)
modes = st.sampled_from(EXTRA_PARAMETER_MODES)


def typed_outcome(call: Callable[[], Any]) -> Any:
    """The call's value, or its ApiError after checking that the error renders as a 4xx answer."""
    try:
        return call()
    except ApiError as exc:
        response = exc.response()
        assert 400 <= response.status_code < 500, response.status_code
        if response.media_type == "application/json":
            json.loads(response.body)
        return exc


@FUZZ
@given(body=chat_bodies, mode=modes, openai_style=st.booleans(), max_messages=st.integers(1, 8))
def test_chat_parser_raises_only_api_errors(body: Any, mode: str, openai_style: bool, max_messages: int) -> None:
    call = lambda: parse_chat(body, extra_mode=mode, openai_style=openai_style, max_messages=max_messages)  # noqa: E731
    outcome = typed_outcome(call)
    if isinstance(outcome, ChatRequest):
        assert 1 <= len(outcome.messages) <= max_messages
        assert all(m["role"] in ROLES - {"developer"} and isinstance(m["content"], str) for m in outcome.messages)
        for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
            assert math.isfinite(outcome.sampling[name])
        assert isinstance(outcome.sampling["max_tokens"], int)


@FUZZ
@given(body=embedding_bodies, mode=modes, openai_style=st.booleans(), max_inputs=st.integers(1, 5))
def test_embeddings_parsers_raise_only_api_errors(body: Any, mode: str, openai_style: bool, max_inputs: int) -> None:
    text = typed_outcome(
        lambda: parse_text_embeddings(
            body, extra_mode=mode, openai_style=openai_style, native_dims=384, max_inputs=max_inputs
        )
    )
    if isinstance(text, EmbeddingsRequest):
        assert 1 <= len(text.inputs) <= max_inputs and all(isinstance(t, str) for t in text.inputs)
    images = typed_outcome(
        lambda: parse_image_embeddings(body, extra_mode=mode, native_dims=344, max_inputs=max_inputs)
    )
    if isinstance(images, EmbeddingsRequest):
        assert 1 <= len(images.inputs) <= max_inputs and all(isinstance(i, bytes) for i in images.inputs)


def _request(
    *,
    headers: list[tuple[bytes, bytes]] = (),
    query: bytes = b"",
    path_params: dict[str, str] | None = None,
    chunks: list[bytes] = (),
    disconnect: bool = False,
) -> Request:
    """A starlette Request over an in-memory receive: `chunks` as the body, then the end or a disconnect."""
    messages: list[dict[str, Any]] = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    messages.append({"type": "http.disconnect"} if disconnect else {"type": "http.request", "body": b""})

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "headers": list(headers),
        "query_string": query,
        "path_params": path_params or {},
    }
    return Request(scope, receive)


header_values = st.binary(max_size=12) | st.sampled_from([b"12", b"\xb2", b"1e3", b"-5", b" 7", b"\xd9\xa1"])
json_texts = json_values.map(lambda v: json.dumps(v).encode())
bodies = st.one_of(
    json_texts,
    st.binary(max_size=60),
    st.integers(1, 5000).map(lambda n: b"[" * n),
    st.sampled_from([b"NaN", b"-Infinity", b'{"a": NaN}', b"\xef\xbb\xbf{}", b'"\xed\xa0\x80"', b""]),
    json_texts.flatmap(lambda raw: st.integers(0, max(0, len(raw) - 1)).map(lambda cut: raw[:cut])),
)


@FUZZ
@given(
    body=bodies,
    cuts=st.lists(st.integers(0, 80), max_size=4),
    length=st.none() | header_values,
    max_bytes=st.integers(1, 100),
    disconnect=st.booleans(),
)
def test_read_json_raises_only_api_errors_or_client_gone(
    body: bytes, cuts: list[int], length: bytes | None, max_bytes: int, disconnect: bool
) -> None:
    points = sorted({min(c, len(body)) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    headers = [] if length is None else [(b"content-length", length)]
    request = _request(headers=headers, chunks=chunks, disconnect=disconnect)
    try:
        typed_outcome(lambda: asyncio.run(read_json(request, max_bytes)))
    except ClientGone:
        assert disconnect


@FUZZ_SMALL
@given(query=st.binary(max_size=40), header=header_values, key=st.text(min_size=1, max_size=10))
def test_query_and_header_readers_raise_only_api_errors(query: bytes, header: bytes, key: str) -> None:
    request = _request(
        query=query,
        headers=[(b"extra-parameters", header), (b"api-key", header), (b"authorization", b"Bearer " + header)],
    )
    typed_outcome(lambda: require_api_version(request))
    mode = typed_outcome(lambda: extra_parameters_mode(request))
    assert isinstance(mode, ApiError) or mode in EXTRA_PARAMETER_MODES
    middleware = KeyAndRequestIdMiddleware(app=lambda *_: None, key=key)
    assert middleware._authorised(request.scope) in (True, False)


DEPLOYMENTS = {
    name: Deployment(name, operation, name, name, "test", slot=None)
    for name, operation in [("chat", "chat"), ("text", "embeddings"), ("images", "images/embeddings")]
}


@FUZZ_SMALL
@given(
    style=st.sampled_from(["serverless", "models", "v1"]),
    operation=st.sampled_from(["info", "chat", "embeddings", "images/embeddings"]),
    body=either(st.fixed_dictionaries({"model": either(st.sampled_from(sorted(DEPLOYMENTS)))})),
    path_name=st.sampled_from(sorted(DEPLOYMENTS)) | st.text(max_size=8),
    query=st.binary(max_size=30),
)
def test_deployment_lookup_raises_only_api_errors(
    style: str, operation: str, body: Any, path_name: str, query: bytes
) -> None:
    request = _request(query=query, path_params={"deployment": path_name})
    found = typed_outcome(lambda: find_deployment(DEPLOYMENTS, request, style, operation, body))  # type: ignore[arg-type]
    if isinstance(found, Deployment):
        assert operation == "info" or found.operation == operation


@FUZZ_SMALL
@given(
    env=st.dictionaries(
        st.sampled_from(
            [
                "LOCAL_ENDPOINT_KEY",
                "LOCAL_ENDPOINT_BLOCKLIST",
                "LOCAL_ENDPOINT_MAX_QUEUE",
                "LOCAL_ENDPOINT_THREADS",
                "LOCAL_ENDPOINT_CHAT_CONTEXT",
                "LOCAL_ENDPOINT_MAX_BODY_MB",
                "LOCAL_ENDPOINT_MAX_MESSAGES",
                "LOCAL_ENDPOINT_MAX_INPUTS",
                "LOCAL_ENDPOINT_MAX_EMBEDDING_TOKENS",
                "LOCAL_ENDPOINT_CHAT_MODEL",
            ]
        ),
        st.text(max_size=12) | st.integers(-5, 10**6).map(str),
    )
)
def test_endpoint_settings_raise_only_value_errors_naming_the_variable(env: dict[str, str]) -> None:
    try:
        config = EndpointConfig.from_environ(env)
    except ValueError as exc:
        assert any(name in str(exc) for name in env)
        return
    assert config.limits.max_body_bytes >= 2**20 and config.limits.max_messages >= 1


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda: parse_chat({"messages": [{"role": [], "content": "x"}]}, extra_mode="error", openai_style=False),
            "messages[0].role",
        ),
        (
            lambda: parse_chat(
                {"messages": [{"role": "user", "content": [{"type": {}}]}]}, extra_mode="error", openai_style=False
            ),
            "messages[0].content[0]",
        ),
        (
            lambda: parse_chat(
                {"messages": [{"role": "user", "content": "x"}], "top_k": 10**400},
                extra_mode="pass-through",
                openai_style=False,
            ),
            "top_k",
        ),
        (
            lambda: parse_chat(
                {"messages": [{"role": "user", "content": "x"}], "typical_p": 10**400},
                extra_mode="pass-through",
                openai_style=False,
            ),
            "typical_p",
        ),
        (
            lambda: parse_chat(
                {"messages": [{"role": "user", "content": "x"}], "logit_bias": {"1": 10**400}},
                extra_mode="pass-through",
                openai_style=False,
            ),
            "logit_bias",
        ),
        (
            lambda: parse_text_embeddings(
                {"input": ["x"], "encoding_format": ["float"]}, extra_mode="error", openai_style=False, native_dims=384
            ),
            "encoding_format",
        ),
        (
            lambda: parse_text_embeddings(
                {"input": ["x"], "input_type": {}}, extra_mode="error", openai_style=False, native_dims=384
            ),
            "input_type",
        ),
    ],
)
def test_values_the_fuzzer_found_are_422_naming_the_field(call: Callable[[], Any], field: str) -> None:
    outcome = typed_outcome(call)
    assert isinstance(outcome, ApiError) and outcome.status == 422
    assert field in str(outcome)


def test_body_readers_the_fuzzer_found_are_400_or_413() -> None:
    superscript = _request(headers=[(b"content-length", b"\xb2")], chunks=[b"{}"])
    assert asyncio.run(read_json(superscript, 100)) == {}
    for raw in (b"[" * 5000, b'{"a": NaN}', b"Infinity"):
        outcome = typed_outcome(lambda raw=raw: parse_json_body(raw))
        assert isinstance(outcome, ApiError) and outcome.status == 400
