"""Tool calls on stage (AppTest against the recording fault server): the form and the results name each call by its
tool, never by its call id (an internal id), in chat and in compare panes; the requests still carry the ids, and off
stage the ids are shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlit.testing.v1 import AppTest

from services.config import Deployment
from services.tool_turns import sequence_problems
from tests.app.conftest import all_text
from tests.fixtures.app_server import toml_deployment
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks, tool_call_chunks

CALLS = [("call_calc_7f3a", "calculator", '{"expression": "6 * 7"}'), ("call_w_9b2c", "get_weather", "{}")]
CALL_IDS = [call_id for call_id, _, _ in CALLS]


def stage_text(at: AppTest) -> str:
    """Every text drawn, with the labels of the result boxes, the source radios and the buttons."""
    labels = [w.label for w in [*at.text_area, *at.radio, *at.button]]
    return "\n".join([all_text(at), *labels])


def chat_bodies(scenario: Scenario) -> list[dict[str, Any]]:
    return [r.json() for r in scenario.requests if r.path.endswith("/chat/completions")]


def fill_weather(at: AppTest, prefix: str) -> None:
    [box] = [a for a in at.text_area if str(a.key).startswith(prefix) and "weather" in a.label]
    box.input('{"temperature_c": 21}').run()


def test_chat_on_stage_names_tool_calls_by_tool_only(
    app_with_config: Callable[..., AppTest], fault_server: FaultServer
) -> None:
    scenario = fault_server.scenario(Reply(sse=tool_call_chunks(CALLS)), Reply(sse=chat_chunks(["42."])))
    # On stage the sidebar is not drawn, so no status check comes before the chat's requests.
    at = app_with_config(toml_deployment("tooling", scenario.endpoint), {"present": "1"})
    at.chat_input[0].set_value("6 * 7, and the weather?").run()
    assert not at.exception, at.exception
    waiting = stage_text(at)
    assert "2 tool calls wait for a result" in waiting
    assert "`calculator`" in waiting and "`get_weather`" in waiting
    assert "Result of get\\_weather" in waiting or "Result of get_weather" in waiting
    for call_id in CALL_IDS:
        assert call_id not in waiting, call_id
    fill_weather(at, "chat_tool_")
    at.button(key="chat_tool_send").click().run()
    assert not at.exception, at.exception
    answered = stage_text(at)
    assert answered.count("Tool result · ") == 2 and "42." in answered
    for call_id in CALL_IDS:
        assert call_id not in answered, call_id
    second = chat_bodies(scenario)[1]["messages"]
    assert [m.get("tool_call_id") for m in second if m["role"] == "tool"] == CALL_IDS
    assert sequence_problems(second) == []
    # Off stage the same results name their call ids.
    at.button(key="presenter_leave").click().run()
    backstage = stage_text(at)
    for call_id in CALL_IDS:
        assert f"call `{call_id}`" in backstage, call_id


def _compare() -> None:
    from pages.compare import render

    render()


def test_compare_panes_on_stage_name_tool_calls_by_tool_only(fault_server: FaultServer) -> None:
    scenarios = {
        name: fault_server.scenario(Reply(sse=tool_call_chunks(CALLS)), Reply(sse=chat_chunks([f"{name}: 42."])))
        for name in ("orion", "vega")
    }
    at = AppTest.from_function(_compare, default_timeout=30)
    at.session_state["deployments_added"] = {
        name: Deployment(name=name, endpoint=s.endpoint, max_retries=0) for name, s in scenarios.items()
    }
    at.session_state["presenter_on"] = True
    at.query_params["panes"] = "orion,vega"
    at.run()
    at.chat_input(key="compare.input").set_value("go").run()
    assert not at.exception, at.exception
    waiting = stage_text(at)
    assert waiting.count("2 tool calls wait for a result") == 2
    for call_id in CALL_IDS:
        assert call_id not in waiting, call_id
    for pane in ("p1", "p2"):
        fill_weather(at, f"compare_tool_{pane}_")
        at.button(key=f"compare_tool_{pane}_send").click().run()
        assert not at.exception, at.exception
    answered = stage_text(at)
    assert answered.count("Tool result · ") == 4 and "orion: 42." in answered and "vega: 42." in answered
    for call_id in CALL_IDS:
        assert call_id not in answered, call_id
    for scenario in scenarios.values():
        second = chat_bodies(scenario)[1]["messages"]
        assert [m.get("tool_call_id") for m in second if m["role"] == "tool"] == CALL_IDS
        assert sequence_problems(second) == []
    at.session_state["presenter_on"] = False
    at.run()
    assert stage_text(at).count("call `call_w_9b2c`") == 2
