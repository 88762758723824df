"""Request limits of the embedded endpoint over real HTTP: body size (chunked too), messages, inputs and tokens."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from local_endpoint.config import EndpointConfig
from local_endpoint.limits import MIB
from tests.local_endpoint.openapi import validate

API = {"api-version": "2024-05-01-preview"}
CHAT = "/smollm2-135m-instruct/chat/completions"
EMBED = "/all-minilm-l6-v2/embeddings"
IMAGES = "/image-descriptor/images/embeddings"
CHUNK = b" " * (64 * 1024)


def _chunks(total_bytes: int) -> Iterator[bytes]:
    """A body of `total_bytes` spaces in 64 KiB pieces; a generator makes httpx send it chunked."""
    sent = 0
    while sent < total_bytes:
        piece = CHUNK[: total_bytes - sent]
        sent += len(piece)
        yield piece


def _assert_413(answer: httpx.Response) -> None:
    assert answer.status_code == 413, answer.text
    body = answer.json()
    validate(body, "Azure.Core.Foundations.ErrorResponse")
    assert body["error"]["code"] == "payload_too_large"
    assert answer.headers["x-ms-error-code"] == "payload_too_large"
    assert "1 MiB" in body["error"]["message"] and "LOCAL_ENDPOINT_MAX_BODY_MB" in body["error"]["message"]


@pytest.mark.parametrize("path", [CHAT, EMBED, IMAGES, "/v1/chat/completions", "/models/embeddings"])
def test_chunked_body_over_the_limit_is_413_not_a_hang_or_500(limited_endpoint_url: str, path: str) -> None:
    params = {} if path.startswith("/v1") else API
    with httpx.Client(timeout=30) as client:
        answer = client.post(f"{limited_endpoint_url}{path}", params=params, content=_chunks(3 * MIB))
        assert "content-length" not in answer.request.headers
        assert answer.request.headers["transfer-encoding"] == "chunked"
        _assert_413(answer)
        assert "stopped reading" in answer.json()["error"]["message"]
        # The connection and the server are still good for the next request.
        again = client.post(f"{limited_endpoint_url}{EMBED}", params=API, json={"input": ["still here"]})
        assert again.status_code == 200


def test_declared_length_over_the_limit_is_413_naming_the_size(limited_endpoint_url: str) -> None:
    body = b'{"input": ["x"]}' + b" " * MIB
    answer = httpx.post(f"{limited_endpoint_url}{EMBED}", params=API, content=body, timeout=30)
    _assert_413(answer)
    assert f"{len(body)} bytes" in answer.json()["error"]["message"]


def test_chunked_body_is_refused_before_it_ends(limited_endpoint_url: str) -> None:
    """The server answers once the limit is passed, while the body is still open: it never buffers it whole."""
    url = urlsplit(limited_endpoint_url)
    head = (
        f"POST {EMBED}?api-version=2024-05-01-preview HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        sock.sendall(head)
        for _ in range(24):  # 1.5 MiB, and never the closing zero-length chunk
            sock.sendall(f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n")
        started = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            assert data, "the server closed the connection without an answer"
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 10


def test_chunked_body_under_the_limit_is_served(limited_endpoint_url: str) -> None:
    body = b'{"input": ["a chunked body just under the limit"]}'
    pieces = [body, *_chunks(MIB - len(body) - 1)]
    answer = httpx.post(f"{limited_endpoint_url}{EMBED}", params=API, content=iter(pieces), timeout=30)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]) == 1


def _assert_too_long(answer: httpx.Response, field: str, got: int, limit: int, variable: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "invalid_input" and body["status"] == 422
    (problem,) = body["detail"]
    assert problem["loc"] == ["body", field] and problem["input"] == got and problem["type"] == "too_long"
    assert f"At most {limit}" in problem["msg"] and variable in problem["msg"] and f"got {got}" in problem["msg"]


def test_too_many_messages_is_422_naming_limit_and_count(limited_endpoint_url: str) -> None:
    messages = [{"role": "user", "content": f"message {i}"} for i in range(9)]
    answer = httpx.post(
        f"{limited_endpoint_url}{CHAT}", params=API, json={"messages": messages, "max_tokens": 1}, timeout=60
    )
    _assert_too_long(answer, "messages", 9, 8, "LOCAL_ENDPOINT_MAX_MESSAGES")
    # Eight pass the limit and reach the prompt filter (a quick answer that needs no generation).
    messages[7]["content"] = "forbiddenfruit"
    fits = httpx.post(f"{limited_endpoint_url}{CHAT}", params=API, json={"messages": messages[:8]}, timeout=60)
    assert fits.status_code == 400 and fits.json()["error"]["code"] == "content_filter", fits.text


def test_too_many_text_inputs_is_422_naming_limit_and_count(limited_endpoint_url: str) -> None:
    answer = httpx.post(f"{limited_endpoint_url}{EMBED}", params=API, json={"input": ["hi"] * 17}, timeout=60)
    _assert_too_long(answer, "input", 17, 16, "LOCAL_ENDPOINT_MAX_INPUTS")
    fits = httpx.post(f"{limited_endpoint_url}{EMBED}", params=API, json={"input": ["hi"] * 16}, timeout=60)
    assert fits.status_code == 200 and len(fits.json()["data"]) == 16


def test_too_many_images_is_422_naming_limit_and_count(limited_endpoint_url: str) -> None:
    image = {"image": "data:image/png;base64,iVBORw0KGgo="}
    answer = httpx.post(f"{limited_endpoint_url}{IMAGES}", params=API, json={"input": [image] * 17}, timeout=60)
    _assert_too_long(answer, "input", 17, 16, "LOCAL_ENDPOINT_MAX_INPUTS")


def test_too_many_embedding_tokens_is_422_naming_limit_and_count(limited_endpoint_url: str) -> None:
    texts = ["the quick brown fox jumps over the lazy dog again and again"] * 10
    one = httpx.post(f"{limited_endpoint_url}{EMBED}", params=API, json={"input": texts[:1]}, timeout=60)
    per_text = one.json()["usage"]["prompt_tokens"]
    assert per_text * 10 > 100
    answer = httpx.post(f"{limited_endpoint_url}{EMBED}", params=API, json={"input": texts}, timeout=60)
    _assert_too_long(answer, "input", per_text * 10, 100, "LOCAL_ENDPOINT_MAX_EMBEDDING_TOKENS")


def test_chat_prompt_over_the_context_is_400_naming_tokens_and_window(limited_endpoint_url: str) -> None:
    prompt = "word " * 600
    answer = httpx.post(
        f"{limited_endpoint_url}{CHAT}",
        params=API,
        json={"messages": [{"role": "user", "content": prompt}], "max_tokens": 1},
        timeout=60,
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
    assert "holds 512" in error["message"] and "the prompt has" in error["message"]


@pytest.mark.parametrize("raw", [b'{"input": ["x"], "dimensions": NaN}', b"[" * 100_000, b"\xff\xfe{"])
def test_bodies_json_cannot_hold_are_400_invalid_json(limited_endpoint_url: str, raw: bytes) -> None:
    answer = httpx.post(f"{limited_endpoint_url}{EMBED}", params=API, content=raw, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_json"


def test_limits_come_from_the_environment_with_defaults() -> None:
    config = EndpointConfig.from_environ(
        {
            "LOCAL_ENDPOINT_MAX_BODY_MB": "3",
            "LOCAL_ENDPOINT_MAX_MESSAGES": "5",
            "LOCAL_ENDPOINT_MAX_INPUTS": "7",
            "LOCAL_ENDPOINT_MAX_EMBEDDING_TOKENS": "11",
        }
    )
    limits = config.limits
    assert (limits.max_body_bytes, limits.max_messages, limits.max_inputs, limits.max_embedding_tokens) == (
        3 * MIB,
        5,
        7,
        11,
    )
    default = EndpointConfig.from_environ({}).limits
    assert (default.max_body_bytes, default.max_messages, default.max_inputs) == (64 * MIB, 2048, 2048)
    assert default.max_embedding_tokens == 300_000


@pytest.mark.parametrize(
    "name", ["LOCAL_ENDPOINT_MAX_BODY_MB", "LOCAL_ENDPOINT_MAX_MESSAGES", "LOCAL_ENDPOINT_MAX_INPUTS"]
)
def test_a_malformed_or_zero_limit_names_its_variable(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        EndpointConfig.from_environ({name: "lots"})
    with pytest.raises(ValueError, match=name):
        EndpointConfig.from_environ({name: "0"})
