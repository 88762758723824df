"""JSON output of the embedded chat model over HTTP: answers valid for their schema (streamed or not), a schema
llama.cpp cannot follow is a 422, and a JSON answer without `max_tokens` stops at the configured bound with
finish_reason `length`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from tests.fixtures.local_endpoint import run_local_endpoint

CHAT = "smollm2-135m-instruct"
API = {"api-version": "2024-05-01-preview"}
ANN = "Give a JSON object with the keys name and age for a person named Ann who is 30."
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
REVIEW_PROMPT = "Review this product as JSON: 'The kettle boils fast and looks great.'"
# Every field bounded (enums, a boolean, a short string): the grammar itself ends the answer well within the bound.
REVIEW = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "stars": {"enum": [1, 2, 3, 4, 5]},
        "recommend": {"type": "boolean"},
        "summary": {"type": "string", "maxLength": 40},
    },
    "required": ["sentiment", "stars", "recommend", "summary"],
    "additionalProperties": False,
}
BOUND = 6


def _schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def _post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/{CHAT}/chat/completions", params=API, json=body, timeout=120)


def _choice(url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = _post(url, body)
    assert answer.status_code == 200, answer.text
    return answer.json()["choices"][0]


@pytest.mark.parametrize(
    ("prompt", "schema", "sampling"),
    [
        (ANN, PERSON, {"temperature": 0}),
        (REVIEW_PROMPT, REVIEW, {"temperature": 0}),
        (REVIEW_PROMPT, REVIEW, {"temperature": 0.9, "seed": 7}),
        (REVIEW_PROMPT, REVIEW, {"temperature": 0.9, "seed": 11}),
    ],
    ids=["person-greedy", "review-greedy", "review-seed7", "review-seed11"],
)
def test_json_schema_answer_without_max_tokens_is_valid_for_its_schema(
    local_endpoint_url: str, prompt: str, schema: dict[str, Any], sampling: dict[str, Any]
) -> None:
    body = {"messages": [{"role": "user", "content": prompt}], "response_format": _schema_format(schema), **sampling}
    choice = _choice(local_endpoint_url, body)
    assert choice["finish_reason"] == "stop"
    jsonschema.validate(json.loads(choice["message"]["content"]), schema)


def test_streamed_json_schema_answer_is_valid_for_its_schema(local_endpoint_url: str) -> None:
    body = {
        "messages": [{"role": "user", "content": REVIEW_PROMPT}],
        "response_format": _schema_format(REVIEW),
        "temperature": 0,
        "stream": True,
    }
    with httpx.stream("POST", f"{local_endpoint_url}/{CHAT}/chat/completions", params=API, json=body) as answer:
        lines = [line for line in answer.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    jsonschema.validate(json.loads(text), REVIEW)


def test_json_object_answer_without_max_tokens_parses(local_endpoint_url: str) -> None:
    json_object = {"type": "json_object"}
    body = {"messages": [{"role": "user", "content": ANN}], "temperature": 0, "response_format": json_object}
    choice = _choice(local_endpoint_url, body)
    assert choice["finish_reason"] == "stop"
    assert json.loads(choice["message"]["content"]) == {"name": "Ann", "age": 30}


def test_schema_llama_cpp_cannot_follow_is_422_on_the_schema(local_endpoint_url: str) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "response_format": _schema_format({"type": "strange"})}
    answer = _post(local_endpoint_url, body)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", "response_format", "json_schema", "schema"]]
    assert "cannot follow this schema" in detail[0]["msg"]


@pytest.fixture(scope="module")
def bounded_endpoint_url() -> Iterator[str]:
    """An open endpoint whose JSON answers without max_tokens stop after BOUND tokens."""
    with run_local_endpoint({"LOCAL_ENDPOINT_JSON_MAX_TOKENS": str(BOUND)}) as url:
        yield url


@pytest.mark.parametrize("response_format", [{"type": "json_object"}, _schema_format(PERSON)], ids=["object", "schema"])
def test_json_answer_without_max_tokens_stops_at_the_bound_saying_length(
    bounded_endpoint_url: str, response_format: dict[str, Any]
) -> None:
    base = {"messages": [{"role": "user", "content": ANN}], "temperature": 0, "response_format": response_format}
    answer = _post(bounded_endpoint_url, base)
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["finish_reason"] == "length"
    assert answer.json()["usage"]["completion_tokens"] == BOUND
    # A max_tokens in the request wins over the bound: the same answer runs to its end.
    given = _choice(bounded_endpoint_url, {**base, "max_tokens": 60})
    assert given["finish_reason"] == "stop"
    assert json.loads(given["message"]["content"]) == {"name": "Ann", "age": 30}
