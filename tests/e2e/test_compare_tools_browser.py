"""Tool round trips in two compare panes in headless Chromium, against the recording fault server: the calculator
added for the comparison with one click, one pane's call answered by the built-in tool, the other's typed, each
pane continuing on its own, and every request body valid for the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from services.demo_tools import DEMO_TOOLS
from services.tool_turns import sequence_problems
from tests.fixtures.app_server import (
    AppServer,
    run_app_server,
    screenshot,
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks, tool_call_chunks

pytestmark = pytest.mark.e2e

CALC = [("call_calc", "calculator", '{"expression": "6 * 7"}')]
WEATHER = [("call_w", "get_weather", '{"city": "Oslo"}')]
TYPED = '{"temperature_c": 21}'


@pytest.fixture(scope="module")
def tool_panes(fault_server: FaultServer) -> Iterator[tuple[AppServer, dict[str, Scenario]]]:
    """Two deployments: one answers with a calculator call, the other with a weather call; then each with text."""
    # The sidebar's /info status check is each scenario's first request: answer it at once.
    info = Reply(json={"model_name": "scripted", "model_type": "chat-completion", "model_provider_name": "test"})
    scenarios = {
        "orion": fault_server.scenario(info, Reply(sse=tool_call_chunks(CALC)), Reply(sse=chat_chunks(["It is 42."]))),
        "vega": fault_server.scenario(info, Reply(sse=tool_call_chunks(WEATHER)), Reply(sse=chat_chunks(["21 °C."]))),
    }
    toml = "".join(toml_deployment(name, s.endpoint, max_retries=0) for name, s in scenarios.items())
    with run_app_server(toml) as server:
        yield server, scenarios


def chat_bodies(scenario: Scenario) -> list[dict[str, Any]]:
    return [r.json() for r in scenario.requests if r.path.endswith("/chat/completions")]


def assert_valid_round(body: dict[str, Any], calls: list[tuple[str, str, str]], result: str) -> None:
    """The second body: the prompt, the assistant's tool calls, then their tool messages (ids matching) last."""
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in messages[1]["tool_calls"]] == calls
    assert messages[2]["tool_call_id"] == calls[0][0]
    assert json.loads(messages[2]["content"]) == json.loads(result)
    assert sequence_problems(messages) == []


def test_two_panes_answer_their_tool_calls_and_continue(
    page: Any, tool_panes: tuple[AppServer, dict[str, Scenario]]
) -> None:
    server, scenarios = tool_panes
    page.goto(f"{server.url}/compare?panes=orion,vega")
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()
    page.get_by_text("Tool calls: built-in tools and canned results", exact=True).click()
    page.locator(".st-key-compare_tools_add_calculator button").click()
    wait_until_idle(page)
    assert page.locator(".st-key-compare_tools_add_calculator button").is_disabled()  # now "In tools"
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("go")
    box.press("Enter")
    first_send = page.locator(".st-key-compare_tool_p1_send button")
    second_send = page.locator(".st-key-compare_tool_p2_send button")
    first_send.wait_for()
    second_send.wait_for()
    wait_until_idle(page)
    # Pane 1: the built-in calculator's result is offered; pane 2's weather has none, so it is typed.
    calculator = page.locator(".st-key-compare_tool_p1_pending textarea")
    assert json.loads(calculator.input_value()) == {"expression": "6 * 7", "result": 42}
    screenshot(page, "compare-tool-calls-waiting")
    first_send.click()
    page.locator(".st-key-compare_pane_p1").get_by_text("It is 42.", exact=True).wait_for()
    wait_until_idle(page)
    assert len(chat_bodies(scenarios["vega"])) == 1  # the other pane still waits
    weather = page.locator(".st-key-compare_tool_p2_pending textarea")
    weather.fill(TYPED)
    weather.press("Control+Enter")
    wait_until_idle(page)
    second_send.click()
    page.locator(".st-key-compare_pane_p2").get_by_text("21 °C.", exact=True).wait_for()
    wait_until_idle(page)
    assert page.locator("[class*='st-key-compare_tool_p'][class*='_send']").count() == 0
    for pane, call_id in (("p1", "call_calc"), ("p2", "call_w")):
        results = (
            page.locator(f".st-key-compare_pane_{pane}").get_by_test_id("stChatMessage").filter(has_text="Tool result")
        )
        assert results.count() == 1 and call_id in results.inner_text()
        # Its own avatar: neither the assistant's nor the user's.
        assert results.get_by_test_id("stChatMessageAvatarAssistant").count() == 0
        assert results.get_by_test_id("stChatMessageAvatarUser").count() == 0
    screenshot(page, "compare-tool-round-trip")
    orion, vega = chat_bodies(scenarios["orion"]), chat_bodies(scenarios["vega"])
    assert len(orion) == 2 and len(vega) == 2
    assert orion[0]["tools"] == [DEMO_TOOLS["calculator"].definition()] == vega[0]["tools"]
    assert_valid_round(orion[1], CALC, '{"expression": "6 * 7", "result": 42}')
    assert_valid_round(vega[1], WEATHER, TYPED)
