"""Tool calls in compare panes: each pane's history carries its assistant `tool_calls` and the `role: "tool"`
results, so every request a pane sends is one the API accepts; waiting calls, declines, the export and the handoff."""

from __future__ import annotations

import json

import pytest

from services.blind_mask import blind_mask
from services.compare_export import export_html
from services.compare_model import (
    PaneReply,
    ToolResult,
    Turn,
    answer_calls,
    conversation_rows,
    decline_waiting,
    last_turn_rows,
    pane_history,
    pane_messages,
    waiting_calls,
)
from services.schemas import FunctionCall, Metrics, ToolCall, Usage
from services.tool_turns import NOT_RUN_RESULT, PendingCall, validate_sequence


def call(call_id: str, name: str, arguments: str = "{}") -> ToolCall:
    return ToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments))


def reply(pid: str, text: str = "", calls: list[ToolCall] | None = None, **kw) -> PaneReply:
    return PaneReply(pane_id=pid, deployment=f"dep-{pid}", text=text, status="done", tool_calls=calls or [], **kw)


def test_a_tool_round_is_sent_as_tool_calls_then_tool_messages_with_matching_ids():
    turn = Turn("weather and time?", {"a": reply("a", "", [call("c1", "get_weather", '{"city":"Oslo"}')])})
    turn.replies["a"].tool_results.append(ToolResult("c1", '{"temperature_c": 21}'))
    turn.rounds["a"] = [reply("a", "It is 21 °C in Oslo.")]
    messages = pane_messages([turn], "a", "Be brief.", "thanks")
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "weather and time?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temperature_c": 21}'},
        {"role": "assistant", "content": "It is 21 °C in Oslo."},
        {"role": "user", "content": "thanks"},
    ]
    validate_sequence(messages)


def test_each_pane_carries_only_its_own_calls_and_results():
    turn = Turn("q", {"a": reply("a", "", [call("ca", "clock")]), "b": reply("b", "plain answer")})
    answer_calls([turn], "a", {"ca": "12:00"})
    assert [m["role"] for m in pane_history([turn], "a", "")] == ["user", "assistant", "tool"]
    assert pane_history([turn], "b", "") == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "plain answer"},
    ]


def test_waiting_calls_are_those_of_the_last_answer_without_a_result():
    turns = [Turn("q", {"a": reply("a", "let me check", [call("c1", "clock"), call("c2", "calculator")])})]
    assert waiting_calls(turns, "a") == [PendingCall("c1", "clock", "{}"), PendingCall("c2", "calculator", "{}")]
    # A result for a call that is not waiting is not recorded.
    assert answer_calls(turns, "a", {"c1": "12:00", "nope": "x"}) == 1
    assert [c.id for c in waiting_calls(turns, "a")] == ["c2"]
    assert answer_calls(turns, "a", {"c2": "4"}) == 1
    assert waiting_calls(turns, "a") == []
    # The continuation is what the pane sends next: it ends on the results, valid as it is.
    history = pane_history(turns, "a", "")
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "tool"]
    assert history[1]["content"] == "let me check"
    validate_sequence(history)


def test_a_later_round_can_call_tools_again_and_waits_for_its_own_results():
    turn = Turn("q", {"a": reply("a", "", [call("c1", "clock")])})
    answer_calls([turn], "a", {"c1": "12:00"})
    turn.rounds["a"] = [reply("a", "", [call("c2", "calculator", '{"expression":"1+1"}')])]
    assert [c.id for c in waiting_calls([turn], "a")] == ["c2"]
    answer_calls([turn], "a", {"c2": "2"})
    assert turn.rounds["a"][0].tool_results == [ToolResult("c2", "2")]
    history = pane_history([turn], "a", "")
    assert [(m["role"], m.get("tool_call_id")) for m in history] == [
        ("user", None),
        ("assistant", None),
        ("tool", "c1"),
        ("assistant", None),
        ("tool", "c2"),
    ]
    validate_sequence(history)


def test_a_new_prompt_over_waiting_calls_answers_them_not_run_so_the_body_stays_valid():
    turns = [Turn("q", {"a": reply("a", "", [call("c1", "get_weather")]), "b": reply("b", "hi")})]
    assert decline_waiting(turns, "a") == 1
    assert decline_waiting(turns, "b") == 0
    assert turns[0].replies["a"].tool_results == [ToolResult("c1", NOT_RUN_RESULT)]
    messages = pane_messages(turns, "a", "", "next question")
    assert messages[-2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": NOT_RUN_RESULT},
        {"role": "user", "content": "next question"},
    ]
    validate_sequence(messages)


def test_calls_without_ids_get_stable_ids_that_their_results_answer():
    turn = Turn("q", {"a": reply("a", "", [call("", "clock")])})
    pending = waiting_calls([turn], "a")
    assert [c.id for c in pending] == ["call_0"]
    answer_calls([turn], "a", {"call_0": "noon"})
    validate_sequence(pane_messages([turn], "a", "", "next"))


def test_a_failed_answer_after_results_is_left_out_and_the_results_stay():
    turn = Turn("q", {"a": reply("a", "", [call("c1", "clock")])})
    answer_calls([turn], "a", {"c1": "noon"})
    turn.rounds["a"] = [PaneReply("a", "dep-a", "", "error", error=RuntimeError("boom"))]
    assert waiting_calls([turn], "a") == []
    messages = pane_messages([turn], "a", "", "again")
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "user"]
    validate_sequence(messages)


def test_the_export_shows_tool_calls_and_results_as_such():
    turn = Turn("weather?", {"a": reply("a", "", [call("c1", "get_weather", '{"city":"Oslo"}')])})
    answer_calls([turn], "a", {"c1": json.dumps({"temperature_c": 21})})
    turn.rounds["a"] = [reply("a", "21 degrees")]
    page = export_html([turn], ["a"], {"a": "Model A"}, {})
    assert "Tool call · get_weather · call c1" in page
    assert "Tool result · get_weather · call c1" in page
    assert "{&quot;temperature_c&quot;: 21}" in page
    assert page.index("Tool call") < page.index("Tool result") < page.index("21 degrees")
    assert "dep-a" not in page.split("<details>")[0]  # the label stands for the pane


def test_a_blind_export_shows_tool_calls_and_results_without_their_ids():
    turn = Turn("weather?", {"a": reply("a", "", [call("toolu_01Xyz", "get_weather", '{"city":"Oslo"}')])})
    answer_calls([turn], "a", {"toolu_01Xyz": json.dumps({"temperature_c": 21})})
    mask = blind_mask({"Model A": ["dep-a"]})
    page = export_html([turn], ["a"], {"a": "Model A"}, {}, mask=mask)
    assert "Tool call · get_weather</p>" in page
    assert "Tool result · get_weather</p>" in page
    assert "toolu_" not in page  # the id's form hints at the provider
    assert "call toolu_01Xyz" in export_html([turn], ["a"], {"a": "dep-a"}, {})  # revealed: the ids come back


def test_a_turn_with_tool_rounds_counts_every_answer_in_its_metrics():
    def timed(ttft: float, total: float, out: int, finish: str) -> Metrics:
        usage = Usage(prompt_tokens=5, completion_tokens=out, total_tokens=5 + out)
        return Metrics(
            ttft_s=ttft, total_s=total, tokens_per_s=out / total, request_id="r", usage=usage, finish_reason=finish
        )

    turn = Turn("q", {"a": reply("a", "", [call("c1", "clock")], metrics=timed(0.2, 1.0, 10, "tool_calls"), cost=0.1)})
    answer_calls([turn], "a", {"c1": "noon"})
    turn.rounds["a"] = [reply("a", "It is noon.", metrics=timed(0.3, 3.0, 30, "stop"), cost=0.2)]
    [row] = last_turn_rows([turn], ["a"])
    assert row.values["TTFT (s)"] == 0.2  # the first token of the turn
    assert row.values["Total (s)"] == pytest.approx(4.0)
    assert row.values["Tokens out"] == 40 and row.values["Tokens in"] == 10
    assert row.values["Tokens/s"] == pytest.approx(10.0)
    assert row.values["Finish"] == "stop"
    assert row.values["Cost ($)"] == pytest.approx(0.3)
    [whole] = conversation_rows([turn], ["a"])
    assert whole.values["Tokens out"] == 40 and whole.values["Finish"] == "stop×1"
