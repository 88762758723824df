"""Blind compare with tool calls in headless Chromium: outside the sidebar the page holds no tool call id (`toolu_…`,
`call_…` hint at the provider), "Continue with this one" waits for the reveal, and "Withdraw vote" deletes the stored
vote and shows the vote with nothing chosen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.store.arena import STORE_FILE, ArenaStore
from tests.fixtures.app_server import (
    AppServer,
    fill_and_submit,
    run_app_server,
    screenshot,
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks, tool_call_chunks

pytestmark = pytest.mark.e2e

IDS = {"orion": "toolu_01QrStUvWx", "vega": "call_Mn8PqRs7"}
INFO = Reply(json={"model_name": "m", "model_type": "chat-completion", "model_provider_name": "test"})


@pytest.fixture(scope="module")
def blind_tools(fault_server: FaultServer) -> Iterator[tuple[AppServer, dict[str, Scenario]]]:
    """Two deployments whose first answer is a get_weather call (each with its provider's id form), then text."""
    scenarios = {
        name: fault_server.scenario(
            INFO,
            Reply(sse=tool_call_chunks([(call_id, "get_weather", '{"city": "Oslo"}')])),
            Reply(sse=chat_chunks(["Sunny ", "today."])),
        )
        for name, call_id in IDS.items()
    }
    toml = "".join(toml_deployment(name, s.endpoint, max_retries=0) for name, s in scenarios.items())
    with run_app_server(toml) as server:
        yield server, scenarios


def html_outside_sidebar(page: Any) -> str:
    return page.evaluate(
        "() => { const d = document.documentElement.cloneNode(true);"
        " d.querySelectorAll('[data-testid=stSidebar]').forEach((e) => e.remove()); return d.outerHTML; }"
    )


def test_blind_tool_rounds_hide_call_ids_continue_waits_and_a_vote_is_withdrawn(
    page: Any, blind_tools: tuple[AppServer, dict[str, Scenario]]
) -> None:
    server, scenarios = blind_tools
    page.goto(f"{server.url}/compare?panes=orion,vega")
    wait_for_app(page)
    page.locator(".st-key-compare-blind label").click()
    wait_until_idle(page)
    page.locator("summary").filter(has_text="Tool calls: built-in tools").click()
    wait_until_idle(page)
    page.locator(".st-key-compare_tools_canned textarea").fill('{"get_weather": "sunny"}')
    page.locator(".st-key-compare_tools_canned textarea").press("Control+Enter")
    wait_until_idle(page)
    fill_and_submit(page, '[data-testid="stChatInputTextArea"]', "weather in Oslo?")
    for uid in ("p1", "p2"):
        page.locator(f".st-key-compare_tool_{uid}_pending").wait_for()
    for call_id in IDS.values():
        assert call_id not in html_outside_sidebar(page), call_id
    for uid in ("p1", "p2"):
        page.locator(f".st-key-compare_tool_{uid}_send button").click()
        wait_until_idle(page)
    for uid in ("p1", "p2"):
        page.locator(f".st-key-compare_pane_{uid}").get_by_text("Sunny today.", exact=True).wait_for()
    for name, call_id in IDS.items():  # the requests keep the ids
        [*_, last] = [r.json() for r in scenarios[name].requests if r.path.endswith("/chat/completions")]
        assert last["messages"][-1] == {"role": "tool", "tool_call_id": call_id, "content": "sunny"}
    html = html_outside_sidebar(page)
    assert html.count("Tool result") >= 2
    for call_id in IDS.values():
        assert call_id not in html, call_id
    for uid in ("p1", "p2"):
        buttons = page.locator(f".st-key-compare-{uid}-continue button").all()
        assert buttons and all(b.is_disabled() for b in buttons)
    vote = page.locator(".st-key-compare_vote")
    vote.get_by_text("Tie", exact=True).click()
    wait_until_idle(page)
    store = ArenaStore(Path(server.config_path.parent / "data" / STORE_FILE))
    assert [v.verdict for v in store.votes()] == ["tie"]
    screenshot(page, "compare-blind-withdraw")
    page.get_by_role("button", name="Withdraw vote").click()
    wait_until_idle(page)
    assert store.votes() == []
    assert vote.get_by_role("radio", checked=True).count() == 0  # drawn afresh: nothing chosen
    assert page.locator(".st-key-compare-withdraw").count() == 0
    page.get_by_role("button", name="Reveal names").click()
    wait_until_idle(page)
    assert not page.locator(".st-key-compare-p1-continue button").first.is_disabled()
    page.wait_for_function("id => document.body.innerHTML.includes(id)", arg=IDS["orion"])  # shown once revealed
