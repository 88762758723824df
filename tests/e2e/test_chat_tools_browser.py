"""One tool round trip on the chat page in headless Chromium, against the recording fault server: the calculator is
added with one click, a canned result set, the model's two calls answered, and every request body valid."""

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

CALLS = [("call_calc", "calculator", '{"expression": "6 * 7"}'), ("call_w", "get_weather", '{"city": "Oslo"}')]
QUESTION = "What is 6 * 7, and the weather in Oslo?"
CANNED = '{"get_weather": {"temperature_c": 21}}'


@pytest.fixture(scope="module")
def tool_app(fault_server: FaultServer) -> Iterator[tuple[AppServer, Scenario]]:
    """The app with one deployment that answers with two tool calls, then with text."""
    no_info = Reply(status=404, text="NOT FOUND")  # the sidebar's status check comes first
    scenario = fault_server.scenario(
        no_info, Reply(sse=tool_call_chunks(CALLS)), Reply(sse=chat_chunks(["42, 21 °C."]))
    )
    with run_app_server(toml_deployment("tooling", scenario.endpoint, max_retries=0)) as server:
        yield server, scenario


def _chat_bodies(scenario: Scenario) -> list[dict[str, Any]]:
    return [r.json() for r in scenario.requests if r.path.endswith("/chat/completions")]


def test_tool_calls_are_answered_and_the_model_continues(page: Any, tool_app: tuple[AppServer, Scenario]) -> None:
    server, scenario = tool_app
    page.goto(f"{server.url}/chat")
    wait_for_app(page)
    page.get_by_text("Demo tools and canned results", exact=True).click()
    page.locator(".st-key-chat_tools_add_calculator button").click()
    wait_until_idle(page)
    assert page.locator(".st-key-chat_tools_add_calculator button").is_disabled()  # now "In tools"
    canned = page.locator(".st-key-chat_tools_canned textarea")
    canned.fill(CANNED)
    canned.press("Control+Enter")
    wait_until_idle(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(QUESTION)
    box.press("Enter")
    send = page.locator(".st-key-chat_tool_send button")
    send.wait_for()
    wait_until_idle(page)
    # The results to be sent are shown first: the built-in calculator's and the canned weather.
    calculator = page.locator("[class*='st-key-chat_tool_0_'] textarea")
    assert json.loads(calculator.input_value()) == {"expression": "6 * 7", "result": 42}
    assert page.locator("[class*='st-key-chat_tool_1_'] textarea").input_value() == '{"temperature_c": 21}'
    screenshot(page, "chat-tool-calls-waiting")
    send.click()
    page.get_by_test_id("stChatMessage").get_by_text("42, 21 °C.", exact=True).wait_for()
    wait_until_idle(page)
    messages = page.get_by_test_id("stChatMessage")
    assert messages.count() == 5
    for index in (2, 3):
        result = messages.nth(index)
        assert "Tool result" in result.inner_text()
        # Its own avatar: neither the assistant's nor the user's.
        assert result.get_by_test_id("stChatMessageAvatarAssistant").count() == 0
        assert result.get_by_test_id("stChatMessageAvatarUser").count() == 0
    assert "call_calc" in messages.nth(2).inner_text() and "call_w" in messages.nth(3).inner_text()
    assert page.locator(".st-key-chat_tool_send").count() == 0
    screenshot(page, "chat-tool-round-trip")
    first, second = _chat_bodies(scenario)
    assert first["tools"] == [DEMO_TOOLS["calculator"].definition()]
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    sent = second["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "tool"]
    assert [c["id"] for c in sent[2]["tool_calls"]] == ["call_calc", "call_w"]
    assert [(m["tool_call_id"], json.loads(m["content"])) for m in sent[3:]] == [
        ("call_calc", {"expression": "6 * 7", "result": 42}),
        ("call_w", {"temperature_c": 21}),
    ]
    assert sequence_problems(sent) == []
