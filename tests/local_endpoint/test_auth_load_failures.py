"""Keys, queue limits under 50 concurrent requests, output filtering and models that fail to load."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.local_endpoint.conftest import STRICT_KEY

API = {"api-version": "2024-05-01-preview"}
CHAT = "smollm2-135m-instruct"


def test_without_a_key_the_serverless_401_body_comes_back(strict_endpoint_url: str) -> None:
    answer = httpx.get(f"{strict_endpoint_url}/{CHAT}/info", params=API)
    assert answer.status_code == 401
    assert answer.json() == {
        "statusCode": 401,
        "message": "Auth token validation failed. Please provide a valid key or a valid AAD token",
    }
    wrong = httpx.get(f"{strict_endpoint_url}/{CHAT}/info", params=API, headers={"api-key": "nope"})
    assert wrong.status_code == 401
    assert STRICT_KEY not in wrong.text


@pytest.mark.parametrize("headers", [{"api-key": STRICT_KEY}, {"Authorization": f"Bearer {STRICT_KEY}"}])
def test_the_key_is_accepted_as_api_key_or_bearer(strict_endpoint_url: str, headers: dict[str, str]) -> None:
    assert httpx.get(f"{strict_endpoint_url}/{CHAT}/info", params=API, headers=headers).status_code == 200
    assert httpx.get(f"{strict_endpoint_url}/v1/models", headers=headers).status_code == 200


def test_health_stays_open_when_a_key_is_required(strict_endpoint_url: str) -> None:
    assert httpx.get(f"{strict_endpoint_url}/health").json() == {"status": "ok"}


def test_output_hitting_the_blocklist_ends_the_stream_with_content_filter(strict_endpoint_url: str) -> None:
    body = {
        "messages": [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}],
        "temperature": 0,
        "max_tokens": 40,
        "stream": True,
    }
    headers = {"api-key": STRICT_KEY}
    url = f"{strict_endpoint_url}/{CHAT}/chat/completions"
    with httpx.stream("POST", url, params=API, json=body, headers=headers, timeout=60) as answer:
        lines = [line for line in answer.iter_lines() if line]
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert lines[-1] == "data: [DONE]"
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"
    assert "paris" not in text.lower()
    assert "capital" in text.lower()
    result = chunks[-1]["choices"][0]["content_filter_results"]["custom_blocklists"]
    assert result["details"] == [{"filtered": True, "id": "local-endpoint-environment"}]
    plain = httpx.post(url, params=API, json={**body, "stream": False}, headers=headers, timeout=60).json()
    assert plain["choices"][0]["finish_reason"] == "content_filter"
    assert "paris" not in plain["choices"][0]["message"]["content"].lower()


async def _fire(url: str, path: str, body: dict, count: int, headers: dict[str, str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=120, limits=limits, headers=headers) as client:
        return await asyncio.gather(*(client.post(f"{url}/{path}", params=API, json=body) for _ in range(count)))


def test_fifty_concurrent_requests_are_all_answered_with_the_default_queue(local_endpoint_url: str) -> None:
    answers = asyncio.run(_fire(local_endpoint_url, "all-minilm-l6-v2/embeddings", {"input": ["hello"]}, 50, {}))
    assert [a.status_code for a in answers] == [200] * 50


def test_beyond_the_queue_requests_get_429_with_retry_after_never_500(strict_endpoint_url: str) -> None:
    body = {"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 2}
    answers = asyncio.run(_fire(strict_endpoint_url, f"{CHAT}/chat/completions", body, 50, {"api-key": STRICT_KEY}))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "too_many_requests"


def test_a_model_that_failed_to_load_answers_503_with_the_reason(broken_endpoint_url: str) -> None:
    ready = httpx.get(f"{broken_endpoint_url}/health", params={"ready": "1"}).json()
    assert ready["models"][CHAT] == "failed"
    answer = httpx.post(
        f"{broken_endpoint_url}/{CHAT}/chat/completions",
        params=API,
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 503
    assert "nothing-here.gguf" in answer.json()["error"]["message"]
    text = httpx.post(f"{broken_endpoint_url}/all-minilm-l6-v2/embeddings", params=API, json={"input": ["x"]})
    assert text.status_code == 503


def test_the_server_stays_up_and_serves_what_did_load(broken_endpoint_url: str) -> None:
    info = httpx.get(f"{broken_endpoint_url}/image-descriptor/info", params=API)
    assert info.status_code == 200
    assert httpx.get(f"{broken_endpoint_url}/health").status_code == 200
