"""Tool round trips in compare panes (AppTest against the recording fault server): each pane's calls answered by
a built-in tool, a canned result for the whole comparison or typing, by hand or automatically; a prompt typed over
waiting calls; every request body valid for the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from services.compare_model import Turn
from services.config import Deployment
from services.store.arena import ArenaStore
from services.tool_turns import NOT_RUN_RESULT, sequence_problems
from tests.app.conftest import all_text
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks, tool_call_chunks

CALC = [("call_calc", "calculator", '{"expression": "6 * 7"}')]
WEATHER = [("call_w", "get_weather", '{"city": "Oslo"}')]
CALC_RESULT = '{"expression": "6 * 7", "result": 42}'


def _script() -> None:
    from pages.compare import render

    render()


NO_INFO = Reply(status=404, text="NOT FOUND")  # blind mode asks /info for the model name first


def make_scenarios(fault_server: FaultServer, *first: Reply) -> dict[str, Scenario]:
    return {
        "orion": fault_server.scenario(
            *first, Reply(sse=tool_call_chunks(CALC)), Reply(sse=chat_chunks(["It is 42."]))
        ),
        "vega": fault_server.scenario(*first, Reply(sse=tool_call_chunks(WEATHER)), Reply(sse=chat_chunks(["21 °C."]))),
    }


@pytest.fixture
def scenarios(fault_server: FaultServer) -> dict[str, Scenario]:
    return make_scenarios(fault_server)


def page(scenarios: dict[str, Scenario]) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=30)
    at.session_state["deployments_added"] = {
        name: Deployment(name=name, endpoint=s.endpoint, max_retries=0) for name, s in scenarios.items()
    }
    at.query_params["panes"] = "orion,vega"
    return at.run()


def bodies(scenario: Scenario) -> list[dict[str, Any]]:
    return [r.json() for r in scenario.requests if r.path.endswith("/chat/completions")]


def box(at: AppTest, pane: str, kind: str) -> Any:
    [found] = [
        w for w in (at.text_area if kind == "text" else at.radio) if str(w.key).startswith(f"compare_tool_{pane}_")
    ]
    return found


def assert_continued(body: dict[str, Any], calls: list[tuple[str, str, str]], result: str) -> None:
    """The second request of a pane: the prompt, the assistant's calls, then the tool message for each id."""
    messages = body["messages"]
    assert messages[0] == {"role": "user", "content": "go"}
    assert messages[1]["role"] == "assistant"
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in messages[1]["tool_calls"]] == calls
    assert messages[2:] == [{"role": "tool", "tool_call_id": calls[0][0], "content": result}]
    assert sequence_problems(messages) == []


def turns(at: AppTest) -> list[Turn]:
    return at.session_state["compare.state"].turns


def test_each_pane_answers_its_calls_by_hand_and_goes_on_alone(scenarios):
    at = page(scenarios)
    at.chat_input(key="compare.input").set_value("go").run()
    assert not at.exception, at.exception
    assert "1 tool call waits for a result" in all_text(at)
    # The calculator is built in: its result is offered; the weather has none, so it is typed.
    assert box(at, "p1", "radio").value == "Built-in calculator"
    assert json.loads(box(at, "p1", "text").value) == json.loads(CALC_RESULT)
    assert box(at, "p2", "radio").value == "Type the result"
    at.button(key="compare_tool_p1_send").click().run()
    assert not at.exception, at.exception
    assert len(bodies(scenarios["orion"])) == 2 and len(bodies(scenarios["vega"])) == 1  # only that pane went on
    assert_continued(bodies(scenarios["orion"])[1], CALC, CALC_RESULT)
    box(at, "p2", "text").input('{"temperature_c": 21}').run()
    at.button(key="compare_tool_p2_send").click().run()
    assert not at.exception, at.exception
    assert_continued(bodies(scenarios["vega"])[1], WEATHER, '{"temperature_c": 21}')
    assert "It is 42." in all_text(at) and "21 °C." in all_text(at)
    assert (
        "Tool result" in all_text(at)
        and "tool calls wait" not in all_text(at)
        and "tool call waits" not in all_text(at)
    )
    [turn] = turns(at)
    assert [r.text for r in turn.rounds["p1"]] == ["It is 42."]
    # Results are drawn as tool results, one per pane, never with the assistant's avatar.
    tool_messages = [m for m in at.chat_message if m.name == "tool"]
    assert len(tool_messages) == 2
    assert {m.avatar for m in tool_messages} == {":material/build:"}


def test_answered_automatically_with_a_canned_result_for_the_comparison_and_a_built_in_tool(scenarios):
    at = page(scenarios)
    at.toggle(key="compare.auto_tools").set_value(True).run()
    at.text_area(key="compare_tools_canned").input('{"get_weather": {"temperature_c": 19}}').run()
    at.chat_input(key="compare.input").set_value("go").run()
    assert not at.exception, at.exception
    calc, weather = bodies(scenarios["orion"]), bodies(scenarios["vega"])
    assert len(calc) == 2 and len(weather) == 2  # no click needed
    assert_continued(calc[1], CALC, turns(at)[0].replies["p1"].tool_results[0].content)
    assert json.loads(calc[1]["messages"][2]["content"])["result"] == 42
    assert_continued(weather[1], WEATHER, '{"temperature_c": 19}')
    assert "tool call waits" not in all_text(at)


def test_auto_answers_only_when_every_call_has_a_result(scenarios):
    at = page(scenarios)
    at.toggle(key="compare.auto_tools").set_value(True).run()
    at.chat_input(key="compare.input").set_value("go").run()
    assert not at.exception, at.exception
    assert len(bodies(scenarios["orion"])) == 2  # the built-in calculator covers it
    assert len(bodies(scenarios["vega"])) == 1  # nothing covers get_weather: the form waits
    assert box(at, "p2", "radio").value == "Type the result"


def test_a_prompt_typed_over_waiting_calls_answers_them_not_run(scenarios):
    at = page(scenarios)
    at.chat_input(key="compare.input").set_value("go").run()
    at.chat_input(key="compare.input").set_value("never mind").run()
    assert not at.exception, at.exception
    assert "answered “not run”" in all_text(at)
    for name, calls in (("orion", CALC), ("vega", WEATHER)):
        messages = bodies(scenarios[name])[1]["messages"]
        assert messages[2] == {"role": "tool", "tool_call_id": calls[0][0], "content": NOT_RUN_RESULT}
        assert messages[3] == {"role": "user", "content": "never mind"}
        assert sequence_problems(messages) == []


def test_blind_mode_keeps_names_hidden_through_a_tool_round(fault_server):
    scenarios = make_scenarios(fault_server, NO_INFO)  # /info
    at = page(scenarios)
    at.toggle(key="compare.blind").set_value(True).run()
    at.toggle(key="compare.auto_tools").set_value(True).run()
    at.text_area(key="compare_tools_canned").input('{"get_weather": "sunny"}').run()
    at.chat_input(key="compare.input").set_value("go").run()
    assert not at.exception, at.exception
    assert len(bodies(scenarios["orion"])) == 2 and len(bodies(scenarios["vega"])) == 2
    text = all_text(at) + "".join(h.proto.body for h in at.html)
    assert "It is 42." in text and "21 °C." in text
    for name in ("orion", "vega", "fault-model"):
        assert name not in text, name


def test_a_blind_vote_after_a_tool_round_keeps_the_trace_of_each_panes_last_answer(fault_server):
    scenarios = make_scenarios(fault_server, NO_INFO)  # /info
    at = page(scenarios)
    at.toggle(key="compare.blind").set_value(True).run()
    at.toggle(key="compare.auto_tools").set_value(True).run()
    at.text_area(key="compare_tools_canned").input('{"get_weather": "sunny"}').run()
    at.chat_input(key="compare.input").set_value("go").run()
    at.radio(key="compare.vote.0").set_value("Tie").run()
    assert not at.exception, at.exception
    [turn] = turns(at)
    first = {reply.metrics.trace_id for reply in turn.replies.values() if reply.metrics}
    last = [turn.chain(pane)[-1].metrics.trace_id for pane in turn.replies]
    assert first and not first & set(last)  # the tool round was a run (and a trace) of its own
    [vote] = ArenaStore().votes()
    assert vote.trace_ids == tuple(last)


def test_continue_with_this_one_hands_the_tool_round_to_the_chat_page(scenarios):
    at = page(scenarios)
    at.toggle(key="compare.auto_tools").set_value(True).run()
    at.chat_input(key="compare.input").set_value("go").run()
    at.button(key="compare.p1.continue").click().run()
    assert not at.exception, at.exception
    entries = at.session_state["chat_entries"]
    assert [e.turn.role for e in entries] == ["user", "assistant", "tool", "assistant"]
    assert [c["id"] for c in entries[1].turn.tool_calls] == ["call_calc"]
    assert (entries[2].turn.tool_call_id, entries[2].turn.content) == ("call_calc", CALC_RESULT)
    assert entries[3].turn.content == "It is 42."


def test_a_failed_answer_to_tool_results_is_retried_with_the_results(fault_server):
    failing = Reply(status=500, json={"error": {"code": "InternalServerError", "message": "try later"}})
    scenarios = {
        "orion": fault_server.scenario(
            Reply(sse=tool_call_chunks(CALC)), failing, Reply(sse=chat_chunks(["It is 42."]))
        ),
        "vega": fault_server.scenario(Reply(sse=chat_chunks(["plain."]))),
    }
    at = page(scenarios)
    at.toggle(key="compare.auto_tools").set_value(True).run()
    at.chat_input(key="compare.input").set_value("go").run()
    assert not at.exception, at.exception
    assert len(bodies(scenarios["orion"])) == 2 and "It is 42." not in all_text(at)
    at.button(key="retry_p1_0_1").click().run()
    assert not at.exception, at.exception
    _, failed, retried = bodies(scenarios["orion"])
    assert failed == retried  # the same history, its tool results included
    assert [m["role"] for m in retried["messages"]] == ["user", "assistant", "tool"]
    assert len(bodies(scenarios["vega"])) == 1
    [turn] = turns(at)
    assert [r.text for r in turn.rounds["p1"]] == ["It is 42."]  # the failed answer was replaced
    assert "It is 42." in all_text(at)
