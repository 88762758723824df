"""The tool-call sequence rules: pending calls, the validator, filling in unanswered calls, automatic results."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.tool_turns import (
    NOT_RUN_RESULT,
    AutoResult,
    CannedResultsError,
    PendingCall,
    ToolSequenceError,
    automatic_results,
    call_names,
    close_unanswered,
    decline_pending,
    parse_canned_results,
    pending_calls,
    sequence_problems,
    tool_message,
    validate_sequence,
    with_call_ids,
)


def calls(*ids_and_names: tuple[str, str], content: str | None = None) -> dict[str, Any]:
    """An assistant message with tool calls (id, name), each with arguments `{}`."""
    made = [{"id": i, "type": "function", "function": {"name": n, "arguments": "{}"}} for i, n in ids_and_names]
    return {"role": "assistant", "content": content, "tool_calls": made}


USER = {"role": "user", "content": "What is 6 * 7, and the time in Oslo?"}
TWO_CALLS = calls(("call_a", "calculator"), ("call_b", "current_time"))


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [problem.kind for problem in sequence_problems(messages)]


def test_a_complete_round_trip_is_valid() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        USER,
        TWO_CALLS,
        tool_message("call_b", "12:00"),  # any order within the block
        tool_message("call_a", "42"),
        {"role": "assistant", "content": "42, at noon."},
        {"role": "user", "content": "Thanks"},
    ]
    validate_sequence(messages)
    assert pending_calls(messages) == []


def test_calls_at_the_end_are_pending_until_each_has_a_result() -> None:
    messages = [USER, TWO_CALLS]
    assert pending_calls(messages) == [
        PendingCall("call_a", "calculator", "{}"),
        PendingCall("call_b", "current_time", "{}"),
    ]
    assert kinds(messages) == ["pending"]
    messages.append(tool_message("call_a", "42"))
    assert [call.id for call in pending_calls(messages)] == ["call_b"]
    with pytest.raises(ToolSequenceError, match="call_b"):
        validate_sequence(messages)
    messages.append(tool_message("call_b", "noon"))
    assert pending_calls(messages) == []
    validate_sequence(messages)


def test_a_user_message_before_the_results_is_refused() -> None:
    # What the page used to send when a message was typed under an unanswered call (OpenAI and Azure answer 400).
    messages = [USER, TWO_CALLS, tool_message("call_a", "42"), {"role": "user", "content": "never mind"}]
    [problem] = sequence_problems(messages)
    assert problem.kind == "unanswered" and problem.index == 3 and "call_b" in problem.text
    assert pending_calls(messages) == []  # not pending: the conversation went on


@pytest.mark.parametrize(
    ("messages", "kind"),
    [
        ([USER, tool_message("call_a", "42")], "orphan"),
        ([USER, {"role": "assistant", "content": "Hi"}, tool_message("call_a", "42")], "orphan"),
        (
            [USER, TWO_CALLS, tool_message("call_a", "1"), tool_message("call_x", "2"), tool_message("call_b", "3")],
            "unknown_id",
        ),
        (
            [USER, TWO_CALLS, tool_message("call_a", "1"), tool_message("call_a", "2"), tool_message("call_b", "3")],
            "duplicate",
        ),
        ([USER, calls(("", "calculator")), tool_message("", "1")], "bad_call"),
        ([USER, calls(("call_a", "")), tool_message("call_a", "1")], "bad_call"),
        ([USER, calls(("same", "f"), ("same", "g")), tool_message("same", "1")], "duplicate"),
        (
            [USER, calls(("call_a", "f")), {"role": "tool", "tool_call_id": "call_a", "content": {"x": 1}}],
            "bad_content",
        ),
    ],
)
def test_broken_sequences_are_named(messages: list[dict[str, Any]], kind: str) -> None:
    assert kind in kinds(messages)
    with pytest.raises(ToolSequenceError) as info:
        validate_sequence(messages)
    assert info.value.problems


def test_text_parts_are_a_valid_tool_result() -> None:
    validate_sequence(
        [USER, calls(("c", "f")), {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "ok"}]}]
    )


def test_typing_over_pending_calls_answers_them_not_run() -> None:
    messages = [USER, TWO_CALLS, tool_message("call_a", "42")]
    declined = decline_pending(messages)
    assert declined == [tool_message("call_b", NOT_RUN_RESULT)]
    validate_sequence([*messages, *declined, {"role": "user", "content": "Skip that."}])
    assert "not run" in json.loads(NOT_RUN_RESULT)["error"]


def test_closing_unanswered_calls_repairs_an_old_conversation_and_leaves_the_end_pending() -> None:
    old = [USER, TWO_CALLS, {"role": "user", "content": "typed instead"}, calls(("call_c", "f"))]
    closed = close_unanswered(old)
    assert [m["role"] for m in closed] == ["user", "assistant", "tool", "tool", "user", "assistant"]
    assert [m["tool_call_id"] for m in closed[2:4]] == ["call_a", "call_b"]
    assert kinds(closed) == ["pending"]  # the last call still waits for the user
    assert old[2]["role"] == "user"  # the input is not changed


def test_calls_without_an_id_get_one() -> None:
    arrived = [
        {"id": "", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "x", "function": {}},
    ]
    assert [call["id"] for call in with_call_ids(arrived)] == ["call_0", "x"]


def test_canned_results_come_before_demo_tools_and_unknown_tools_need_typing() -> None:
    pending = [
        PendingCall("1", "calculator", '{"expression": "6 * 7"}'),
        PendingCall("2", "get_weather", '{"city": "Oslo"}'),
        PendingCall("3", "lookup", "{}"),
    ]
    found = automatic_results(pending, {"get_weather": '{"temperature_c": 21}'})
    assert found == {
        "1": AutoResult('{"expression": "6 * 7", "result": 42}', "demo"),
        "2": AutoResult('{"temperature_c": 21}', "canned"),
    }
    assert automatic_results(pending, {"calculator": "canned 42"})["1"] == AutoResult("canned 42", "canned")
    assert "1" not in automatic_results(pending, {}, demo_tools=False)


def test_canned_results_parse_strings_as_they_are_and_values_as_json() -> None:
    assert parse_canned_results('{"a": "sunny", "b": {"t": 21}, "c": [1]}') == {
        "a": "sunny",
        "b": '{"t": 21}',
        "c": "[1]",
    }
    assert parse_canned_results("  ") == {}
    with pytest.raises(CannedResultsError, match="line 1"):
        parse_canned_results("{nope")
    with pytest.raises(CannedResultsError, match="expected an object"):
        parse_canned_results('["a"]')


def test_call_names_label_results_with_their_tool() -> None:
    assert call_names([USER, TWO_CALLS]) == {"call_a": "calculator", "call_b": "current_time"}
