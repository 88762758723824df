"""A tool round trip against the recording fault server: the answer's tool calls, their results, and the next
request body as the API requires it (assistant `tool_calls`, then one tool message per call id)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.client import InferenceClient
from services.config import Deployment
from services.schemas import ChatResult
from services.tool_turns import automatic_results, pending_calls, tool_message, validate_sequence, with_call_ids
from tests.fixtures.fault_server import FaultServer, Reply, chat_body, chat_chunks, tool_call_body, tool_call_chunks

CALLS = [("call_calc", "calculator", '{"expression": "6 * 7"}'), ("call_w", "get_weather", '{"city": "Oslo"}')]
CANNED = {"get_weather": json.dumps({"city": "Oslo", "temperature_c": 21})}
QUESTION = [{"role": "user", "content": "What is 6 * 7, and the weather in Oslo?"}]


def assistant_message(result: ChatResult) -> dict[str, Any]:
    """The answer as the next request carries it (what services.transcript.api_messages builds)."""
    return {
        "role": "assistant",
        "content": result.content or None,
        "tool_calls": with_call_ids(call.model_dump() for call in result.tool_calls),
    }


def assert_valid_round_trip(body: dict[str, Any]) -> None:
    """The body the API accepts: the user's question, the assistant's calls, a result for each call id, in order."""
    messages = body["messages"]
    assert messages[0] == QUESTION[0]
    assistant = messages[1]
    assert assistant["role"] == "assistant" and [c["id"] for c in assistant["tool_calls"]] == ["call_calc", "call_w"]
    assert [c["function"]["name"] for c in assistant["tool_calls"]] == ["calculator", "get_weather"]
    assert assistant["tool_calls"][0]["function"]["arguments"] == '{"expression": "6 * 7"}'
    results = messages[2:]
    assert [m["role"] for m in results] == ["tool", "tool"]
    assert [m["tool_call_id"] for m in results] == ["call_calc", "call_w"]
    assert json.loads(results[0]["content"]) == {"expression": "6 * 7", "result": 42}
    assert json.loads(results[1]["content"]) == {"city": "Oslo", "temperature_c": 21}
    validate_sequence(messages)


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "not-streamed"])
def test_tool_results_follow_the_calls_in_the_next_request(fault_server: FaultServer, streamed: bool) -> None:
    first = Reply(sse=tool_call_chunks(CALLS)) if streamed else Reply(json=tool_call_body(CALLS))
    final = Reply(sse=chat_chunks(["42, and 21 °C."])) if streamed else Reply(json=chat_body("42, and 21 °C."))
    scenario = fault_server.scenario(first, final)
    deployment = Deployment(name="tools", endpoint=scenario.endpoint)
    with InferenceClient(deployment) as client:

        def ask(messages: list[dict[str, Any]]) -> ChatResult:
            validate_sequence(messages)  # what every page does before it sends
            if not streamed:
                return client.chat(messages)
            with client.stream_chat(messages) as stream:
                for _ in stream:
                    pass
                return stream.result

        answer = ask(QUESTION)
        assert answer.finish_reason == "tool_calls"
        messages = [*QUESTION, assistant_message(answer)]
        pending = pending_calls(messages)
        assert [(c.id, c.name, c.arguments) for c in pending] == CALLS
        results = automatic_results(pending, CANNED)
        assert {call_id: found.source for call_id, found in results.items()} == {
            "call_calc": "demo",
            "call_w": "canned",
        }
        messages += [tool_message(call.id, results[call.id].content) for call in pending]
        final_answer = ask(messages)
    assert final_answer.content == "42, and 21 °C."
    bodies = [request.json() for request in scenario.requests]
    assert len(bodies) == 2
    assert bodies[0]["messages"] == QUESTION
    assert_valid_round_trip(bodies[1])
