"""Tool calls cut off by Stop (or a broken stream) while their arguments arrived: never run or answered
automatically, refused by the validator as they are, and sent with `{}` once mended, their result saying so."""

from __future__ import annotations

import json
from typing import Any

from services.tool_turns import (
    CUT_RESULT,
    NOT_RUN_RESULT,
    PendingCall,
    arguments_complete,
    automatic_results,
    decline_pending,
    mend_cut_calls,
    pending_calls,
    sequence_problems,
    tool_message,
)

USER = {"role": "user", "content": "6 * 7, and the weather in Oslo?"}


def assistant(*calls: tuple[str, str, str]) -> dict[str, Any]:
    made = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls]
    return {"role": "assistant", "content": None, "tool_calls": made}


CUT = assistant(("call_a", "calculator", '{"expression": "6 * 7"}'), ("call_b", "get_weather", '{"city": "Os'))


def test_arguments_are_complete_when_they_are_whole_json_or_none():
    assert arguments_complete('{"city": "Oslo"}') and arguments_complete("{}") and arguments_complete("")
    for partial in ('{"city": "Os', '{"city": "Oslo"', "{", '{"a": [1, 2'):
        assert not arguments_complete(partial), partial
    assert PendingCall("c", "get_weather", '{"city": "Os').cut
    assert not PendingCall("c", "get_weather", "{}").cut


def test_a_cut_call_is_pending_but_never_answered_automatically():
    pending = pending_calls([USER, CUT])
    assert [(c.id, c.cut) for c in pending] == [("call_a", False), ("call_b", True)]
    canned = {"get_weather": "sunny", "calculator": "42"}
    assert set(automatic_results(pending, canned)) == {"call_a"}
    cut_calc = pending_calls([USER, assistant(("call_c", "calculator", '{"expression": "6 *'))])
    assert automatic_results(cut_calc, {}) == {}  # the built-in tool is not run on partial arguments either


def test_the_validator_refuses_a_cut_call_until_it_is_mended():
    answered = [USER, CUT, tool_message("call_a", "42"), tool_message("call_b", CUT_RESULT)]
    problems = sequence_problems(answered)
    assert [p.kind for p in problems] == ["cut_call"] and "get_weather" in problems[0].text
    mended = mend_cut_calls(answered)
    assert sequence_problems(mended) == []
    args = [c["function"]["arguments"] for c in mended[1]["tool_calls"]]
    assert args == ['{"expression": "6 * 7"}', "{}"]
    assert CUT["tool_calls"][1]["function"]["arguments"] == '{"city": "Os'  # the conversation itself is kept
    assert mended[0] == USER and mended[2:] == answered[2:]


def test_a_message_typed_over_a_cut_call_answers_it_not_run_and_the_request_is_valid():
    messages = [USER, CUT, *decline_pending([USER, CUT]), {"role": "user", "content": "never mind"}]
    assert [m["content"] for m in messages[2:4]] == [NOT_RUN_RESULT, NOT_RUN_RESULT]
    assert sequence_problems(mend_cut_calls(messages)) == []
    assert json.loads(CUT_RESULT)["error"].startswith("not run")
