"""Presenter mode in headless Chromium: `?present=1` on chat steps a two-prompt demo script with one click each, and
with an error card on the page the DOM holds no endpoint URL, key source words, trace or conversation ids."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services import tracing
from services.error_words import KEY_SOURCES
from services.store.traces import TraceStore
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

SCRIPT = (
    "name: Launch demo\nmessages:\n"
    "  - role: user\n    content: Say hello.\n"
    "  - role: user\n    content: Name three colours.\n"
)


@pytest.fixture(scope="module")
def stage_app(
    fault_server: FaultServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AppServer, Scenario]]:
    """The app with one keyed deployment that answers twice, then refuses its key; a demo script in the library."""
    prompts = tmp_path_factory.mktemp("prompts")
    (prompts / "launch-demo.prompt.yml").write_text(SCRIPT)
    denied = Reply(status=401, json={"error": {"code": "401", "message": "Access denied due to invalid key."}})
    scenario = fault_server.scenario(
        Reply(sse=chat_chunks(["Hello ", "there."])), Reply(sse=chat_chunks(["Red, ", "green, blue."])), denied
    )
    config = toml_deployment("stage-model", scenario.endpoint, key="stage-key-271828", max_retries=0)
    with run_app_server(config, {"PLAYGROUND_PROMPTS_DIR": str(prompts)}) as server:
        yield server, scenario


def _trace_ids(server: AppServer) -> list[str]:
    tracing.flush(10)
    store = TraceStore(Path(server.config_path.parent / "data" / tracing.TRACE_FILE))
    return [row["trace_id"] for row in store.traces(limit=1000)]


def _click_next(page: Any, expected: str) -> None:
    button = page.locator(".st-key-chat_demo_next button")
    assert button.inner_text().strip().endswith(f"Next: {expected}"), button.inner_text()
    button.click()
    wait_until_idle(page)


def test_a_demo_script_on_stage_and_an_error_card_leave_nothing_technical_in_the_dom(
    page: Any, stage_app: tuple[AppServer, Scenario], fault_server: FaultServer
) -> None:
    server, scenario = stage_app
    page.goto(f"{server.url}/chat?present=1")
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()
    assert not page.get_by_test_id("stSidebar").is_visible()
    page.locator("summary").filter(has_text="Settings").click()
    wait_until_idle(page)
    page.locator("summary").filter(has_text="Demo script").click()
    wait_until_idle(page)
    page.locator(".st-key-chat_demo_pick").get_by_role("combobox").click()
    page.get_by_role("option", name="Launch demo").click()
    wait_until_idle(page)
    _click_next(page, "Say hello.")
    page.get_by_test_id("stChatMessage").get_by_text("Hello there.", exact=True).wait_for()
    _click_next(page, "Name three colours.")
    page.get_by_test_id("stChatMessage").get_by_text("Red, green, blue.", exact=True).wait_for()
    page.get_by_text("Demo script finished: all 2 prompts sent.").wait_for()
    answer = page.get_by_test_id("stChatMessage").last.locator("p").first
    assert answer.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 22  # 1.4rem: larger than 16 px
    sent = [r.json()["messages"] for r in scenario.requests if r.path.endswith("/chat/completions")]
    assert [[m["content"] for m in body if m["role"] == "user"] for body in sent] == [
        ["Say hello."],
        ["Say hello.", "Name three colours."],
    ]
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("And one more?")
    box.press("Enter")
    card = page.locator("[class*='st-key-errcard_']")
    card.wait_for()
    wait_until_idle(page)
    assert "stage-model could not be signed in to" in card.inner_text()
    # Big figures for the answers that arrived.
    assert page.get_by_test_id("stMetric").count() >= 6
    figure = page.get_by_test_id("stMetricValue").first
    assert figure.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 40  # 2.6rem
    screenshot(page, "presenter-chat-error-card")
    dom = page.content()
    conversation_id = parse_qs(urlsplit(page.url).query)["c"][0]
    assert parse_qs(urlsplit(page.url).query)["present"] == ["1"]
    trace_ids = _trace_ids(server)
    assert len(trace_ids) >= 3  # the two answers and the refused call were recorded
    host = urlsplit(fault_server.url).netloc
    for hidden in [scenario.endpoint, host, *KEY_SOURCES.values(), *trace_ids, conversation_id, "Open its trace"]:
        assert hidden not in dom, hidden
    assert not re.search(r"trace=[0-9a-f]{32}", dom)
    # Leaving the stage brings the details back: the same card names where the key came from.
    page.locator(".st-key-presenter_leave button").click()
    wait_until_idle(page)
    page.get_by_text("came from the configuration file").wait_for()
    assert page.get_by_test_id("stSidebar").is_visible()
    assert "present" not in parse_qs(urlsplit(page.url).query)


@pytest.fixture
def switch_app(fault_server: FaultServer) -> Iterator[AppServer]:
    """Its own app and endpoint: the sidebar's status checks here must not use up the stage app's scripted replies."""
    scenario = fault_server.scenario(Reply(status=404, text="NOT FOUND"))
    with run_app_server(toml_deployment("plain-model", scenario.endpoint, max_retries=0)) as server:
        yield server


def test_presenter_mode_stays_on_after_a_page_switch(page: Any, switch_app: AppServer) -> None:
    server = switch_app
    page.goto(f"{server.url}/chat")
    wait_for_app(page)
    page.locator(".st-key-presenter_switch label").click()
    wait_until_idle(page)
    assert "present=1" in page.url and not page.get_by_test_id("stSidebar").is_visible()
    page.get_by_test_id("stTopNavLink").filter(has_text="Leaderboard").click()
    wait_until_idle(page)
    assert urlsplit(page.url).path.endswith("/leaderboard")
    page.wait_for_function("() => window.location.search.includes('present=1')")
    assert not page.get_by_test_id("stSidebar").is_visible()
    assert page.locator(".st-key-presenter_leave button").is_visible()
