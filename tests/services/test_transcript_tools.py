"""Tool results in a transcript: sent as tool messages, exported and imported as such, broken ones refused."""

from __future__ import annotations

import json

import pytest

from services.tool_turns import NOT_RUN_RESULT, sequence_problems
from services.transcript import (
    ChatTurn,
    Transcript,
    TranscriptError,
    api_messages,
    from_json,
    missing_tool_turns,
    to_json,
    to_markdown,
    with_missing_tool_turns,
)

CALL = {"id": "call_1", "type": "function", "function": {"name": "calculator", "arguments": '{"expression": "6*7"}'}}
ROUND_TRIP = [
    ChatTurn(role="user", content="6 * 7?"),
    ChatTurn(role="assistant", tool_calls=[CALL], finish_reason="tool_calls"),
    ChatTurn(role="tool", content='{"result": 42}', tool_call_id="call_1"),
    ChatTurn(role="assistant", content="42."),
]


def test_tool_results_are_sent_as_tool_messages_with_their_call_id() -> None:
    messages = api_messages("", ROUND_TRIP)
    assert messages[1] == {"role": "assistant", "content": None, "tool_calls": [CALL]}
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"result": 42}'}
    assert sequence_problems(messages) == []


def test_tool_results_round_trip_through_json_and_show_in_markdown_with_their_tool() -> None:
    transcript = Transcript(deployment="d", messages=ROUND_TRIP)
    again = from_json(to_json(transcript))
    assert again.messages == ROUND_TRIP
    markdown = to_markdown(transcript)
    assert '## Tool result: `calculator` (call `call_1`)\n\n```\n{"result": 42}\n```' in markdown
    assert "## Tool\n" not in markdown


def test_markdown_fences_a_result_holding_backticks_with_a_longer_fence() -> None:
    turns = [*ROUND_TRIP[:2], ChatTurn(role="tool", content="```x```", tool_call_id="call_1")]
    assert "````\n```x```\n````" in to_markdown(Transcript(messages=turns))


def test_an_import_with_a_result_for_no_call_is_refused_with_the_reason() -> None:
    orphan = Transcript(
        messages=[ChatTurn(role="user", content="hi"), ChatTurn(role="tool", content="x", tool_call_id="c")]
    )
    with pytest.raises(TranscriptError, match="tool messages are not a valid sequence: message 2 is a tool result"):
        from_json(to_json(orphan))
    wrong_id = Transcript(messages=[*ROUND_TRIP[:2], ChatTurn(role="tool", content="x", tool_call_id="other")])
    with pytest.raises(TranscriptError, match="answers call 'other'"):
        from_json(to_json(wrong_id))


def test_an_old_conversation_that_typed_over_a_call_imports_and_gets_not_run_results() -> None:
    # What the page saved before tool round trips existed: the calls, then a typed message, no result.
    old = [*ROUND_TRIP[:2], ChatTurn(role="user", content="never mind"), ChatTurn(role="assistant", content="OK")]
    transcript = from_json(to_json(Transcript(messages=old)))
    assert missing_tool_turns(transcript.messages) == [
        (2, [ChatTurn(role="tool", content=NOT_RUN_RESULT, tool_call_id="call_1")])
    ]
    repaired = with_missing_tool_turns(transcript.messages)
    assert [turn.role for turn in repaired] == ["user", "assistant", "tool", "user", "assistant"]
    assert sequence_problems(api_messages("", repaired)) == []


def test_calls_waiting_at_the_end_import_as_they_are() -> None:
    waiting = from_json(to_json(Transcript(messages=ROUND_TRIP[:2])))
    assert missing_tool_turns(waiting.messages) == []
    assert [problem.kind for problem in sequence_problems(api_messages("", waiting.messages))] == ["pending"]


def test_a_failed_prompt_between_does_not_hide_a_missing_result() -> None:
    turns = [
        *ROUND_TRIP[:2],
        ChatTurn(role="user", content="blocked", failed=True),
        ChatTurn(role="user", content="again"),
    ]
    [(index, inserted)] = missing_tool_turns(turns)
    assert index == 3 and json.loads(inserted[0].content)["error"].startswith("not run")


def test_a_saved_call_without_an_id_imports_with_one() -> None:
    nameless = {"id": "", "type": "function", "function": {"name": "calculator", "arguments": "{}"}}
    saved = Transcript(
        messages=[ChatTurn(role="user", content="6*7?"), ChatTurn(role="assistant", tool_calls=[nameless])]
    )
    [call] = from_json(to_json(saved)).messages[1].tool_calls
    assert call["id"] == "call_0"
