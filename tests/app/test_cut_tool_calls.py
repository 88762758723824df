"""A tool call cut off by Stop while its arguments arrived (AppTest against the recording fault server): in a compare
pane and in chat it is shown as cut off, offers no result to give, is never answered automatically, and the request
that follows is one the API accepts (its arguments sent as `{}`, its result saying it was cut off)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlit.testing.v1 import AppTest

from app.chat_state import ChatEntry
from app.components.compare_state import CompareState, PaneConfig
from app.components.tool_answers import CUT_NOTE
from services.compare_model import PaneReply, Turn
from services.config import Deployment
from services.schemas import FunctionCall, ToolCall
from services.tool_turns import CUT_RESULT, sequence_problems
from services.transcript import ChatTurn
from tests.app.conftest import all_text
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks

WHOLE = ("call_a", "calculator", '{"expression": "6 * 7"}')
PARTIAL = ("call_b", "get_weather", '{"city": "Os')


def _script() -> None:
    from pages.compare import render

    render()


def stopped_pane(scenario: Scenario, *calls: tuple[str, str, str], auto: bool = False) -> AppTest:
    """The compare page with one pane whose answer was stopped while its last call's arguments arrived."""
    made = [ToolCall(id=i, function=FunctionCall(name=n, arguments=a)) for i, n, a in calls]
    reply = PaneReply(pane_id="p1", deployment="orion", text="", status="stopped", tool_calls=made)
    state = CompareState(panes=[PaneConfig("p1", "orion")], next_uid=2, url_read=True, auto_tools=auto)
    state.turns = [Turn("6 * 7, and the weather in Oslo?", {"p1": reply})]
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = {"orion": Deployment(name="orion", endpoint=scenario.endpoint)}
    at.session_state["compare.state"] = state
    at.session_state["compare_tools_canned"] = '{"get_weather": "sunny"}'
    at.run()
    assert not at.exception, at.exception
    return at


def bodies(scenario: Scenario) -> list[dict[str, Any]]:
    return [r.json() for r in scenario.requests if r.path.endswith("/chat/completions")]


def answer_boxes(at: AppTest, prefix: str) -> list[Any]:
    return [w for w in at.text_area if str(w.key).startswith(prefix)]


def assert_sent_valid(body: dict[str, Any], results: list[tuple[str, str]]) -> None:
    messages = body["messages"]
    assert [c["function"]["arguments"] for c in messages[1]["tool_calls"]] == [
        "{}" if call_id == "call_b" else WHOLE[2] for call_id, _ in results
    ]
    assert [(m["tool_call_id"], m["content"]) for m in messages[2:]] == results
    assert sequence_problems(messages) == []


def test_a_compare_pane_shows_the_cut_call_and_sends_a_valid_request(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Going on."])))
    at = stopped_pane(scenario, WHOLE, PARTIAL)
    text = all_text(at)
    assert "cut off: its arguments stopped arriving" in text and CUT_NOTE in text
    [box] = answer_boxes(at, "compare_tool_p1_")  # only the whole call asks for a result
    assert "calculator" in box.label
    box.input("42")
    at.button(key="compare_tool_p1_send").click().run()
    assert not at.exception, at.exception
    [body] = bodies(scenario)
    assert_sent_valid(body, [("call_a", "42"), ("call_b", CUT_RESULT)])
    assert "Going on." in all_text(at)


def test_auto_answers_leave_a_pane_with_a_cut_call_to_the_user(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Going on."])))
    at = stopped_pane(scenario, PARTIAL, auto=True)  # canned "get_weather" would cover it, were it whole
    assert bodies(scenario) == []
    assert "1 tool call was cut off" in all_text(at)
    assert answer_boxes(at, "compare_tool_p1_") == []
    at.button(key="compare_tool_p1_send").click().run()
    [body] = bodies(scenario)
    assert_sent_valid(body, [("call_b", CUT_RESULT)])


def test_a_stopped_answer_is_never_answered_automatically(fault_server: FaultServer) -> None:
    # Stopped right after the name arrived: no argument text, so the call looks like one that takes none.
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["It is noon."])))
    at = stopped_pane(scenario, ("call_c", "current_time", ""), auto=True)
    assert bodies(scenario) == []  # the built-in clock would answer it, were the answer not stopped
    assert len(answer_boxes(at, "compare_tool_p1_")) == 1  # the user decides
    at.session_state["compare.state"].turns[0].chain("p1")[-1].status = "done"
    at.run()  # the same call in an answer that finished is answered by the clock at once
    [body] = bodies(scenario)
    assert body["messages"][-1]["role"] == "tool" and body["messages"][-1]["tool_call_id"] == "call_c"


def test_a_prompt_typed_over_a_cut_call_sends_a_valid_request(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Fine."])))
    at = stopped_pane(scenario, PARTIAL)
    at.chat_input(key="compare.input").set_value("never mind").run()
    assert not at.exception, at.exception
    [body] = bodies(scenario)
    assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert sequence_problems(body["messages"]) == []


def test_chat_shows_the_cut_call_and_sends_a_valid_request(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Going on."])))
    at = app_with_config(toml_deployment("demo", scenario.endpoint))
    calls = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in (WHOLE, PARTIAL)]
    at.session_state["chat_entries"] = [
        ChatEntry(turn=ChatTurn(role="user", content="6 * 7, and the weather in Oslo?")),
        ChatEntry(turn=ChatTurn(role="assistant", tool_calls=calls, stopped=True, deployment="demo")),
    ]
    at.run()
    assert CUT_NOTE in all_text(at)
    [box] = answer_boxes(at, "chat_tool_")
    box.input("42")
    at.button(key="chat_tool_send").click().run()
    assert not at.exception, at.exception
    [body] = bodies(scenario)
    assert body["messages"][0]["role"] == "system"  # the chat page's default system prompt
    assert_sent_valid({"messages": body["messages"][1:]}, [("call_a", "42"), ("call_b", CUT_RESULT)])
