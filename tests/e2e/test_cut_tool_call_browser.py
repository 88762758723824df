"""Stop while a tool call's arguments stream, in headless Chromium on the chat page: the call is shown cut off and
offers no result to type, and sending the results makes a request the API accepts (its arguments `{}`, its result
saying it was cut off), as the recording fault server sees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.components.tool_answers import CUT_NOTE
from services.tool_turns import CUT_RESULT, sequence_problems
from tests.fixtures.app_server import (
    AppServer,
    run_app_server,
    screenshot,
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks

pytestmark = pytest.mark.e2e


def _slow_call() -> list[Any]:
    """A get_weather call whose arguments stop for 20 s halfway (time enough to press Stop)."""
    head = {"index": 0, "id": "call_w", "type": "function", "function": {"name": "get_weather", "arguments": ""}}

    def piece(text: str) -> dict[str, Any]:
        return {
            "id": "c",
            "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": text}}]}}],
        }

    return [
        {"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [head]}}]},
        piece('{"city": "Os'),
        20.0,
        piece('lo"}'),
        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        "data: [DONE]\n\n",
    ]


@pytest.fixture(scope="module")
def cut_app(fault_server: FaultServer) -> Iterator[tuple[AppServer, Scenario]]:
    no_info = Reply(status=404, text="NOT FOUND")  # the sidebar's status check comes first
    scenario = fault_server.scenario(no_info, Reply(sse=_slow_call()), Reply(sse=chat_chunks(["Going ", "on."])))
    with run_app_server(toml_deployment("cutter", scenario.endpoint, max_retries=0)) as server:
        yield server, scenario


def test_stop_mid_arguments_shows_the_call_cut_off_and_the_next_request_is_valid(
    page: Any, cut_app: tuple[AppServer, Scenario]
) -> None:
    server, scenario = cut_app
    page.goto(f"{server.url}/chat")
    wait_for_app(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Weather in Oslo?")
    box.press("Enter")
    page.locator(".st-key-chat_stop").wait_for()
    page.wait_for_timeout(2_000)  # the call's id, name and first half of its arguments have arrived
    page.locator(".st-key-chat_stop button").click()
    wait_until_idle(page)
    form = page.locator(".st-key-chat_tool_pending")
    form.wait_for()
    assert CUT_NOTE in form.inner_text()
    assert form.locator("textarea").count() == 0  # nothing to type for a call that cannot be run
    screenshot(page, "chat-tool-call-cut-off")
    form.get_by_role("button", name="Send results").click()
    wait_until_idle(page)
    page.get_by_test_id("stChatMessage").get_by_text("Going on.", exact=True).wait_for()
    last = [r.json() for r in scenario.requests if r.path.endswith("/chat/completions")][-1]
    messages = last["messages"]
    assert messages[-2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": "{}"}
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_w", "content": CUT_RESULT}
    assert sequence_problems(messages) == []
