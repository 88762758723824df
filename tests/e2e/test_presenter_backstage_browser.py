"""Presenter mode in headless Chromium on the pages off the top bar, opened by their URL with `?present=1`: each shows
a plain notice instead of its content, and the DOM holds no endpoint URL, host, key source words or trace id; leaving
presenter mode brings the page (and those details) back."""

from __future__ import annotations

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
    fill_and_submit,
    run_app_server,
    screenshot,
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks

pytestmark = pytest.mark.e2e

KEY = "backstage-key-57721"
PAGES = {"traces": "Traces", "models": "Models", "prompts": "Prompts", "evals": "Evaluations"}


@pytest.fixture(scope="module")
def backstage_app(fault_server: FaultServer) -> Iterator[tuple[AppServer, Scenario]]:
    """The app with one keyed deployment that answers, then refuses its key (a failed call is a trace too)."""
    denied = Reply(status=401, json={"error": {"code": "401", "message": "Access denied due to invalid key."}})
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Hello ", "there."])), denied)
    with run_app_server(toml_deployment("stage-model", scenario.endpoint, key=KEY, max_retries=0)) as server:
        yield server, scenario


def _trace_ids(server: AppServer) -> list[str]:
    tracing.flush(10)
    store = TraceStore(Path(server.config_path.parent / "data" / tracing.TRACE_FILE))
    return [row["trace_id"] for row in store.traces(limit=1000)]


def _hidden_words(server: AppServer, scenario: Scenario, fault_server: FaultServer) -> list[str]:
    return [scenario.endpoint, urlsplit(fault_server.url).netloc, *KEY_SOURCES.values(), KEY, *_trace_ids(server)]


def test_every_backstage_page_on_stage_leaves_nothing_technical_in_the_dom(
    page: Any, backstage_app: tuple[AppServer, Scenario], fault_server: FaultServer
) -> None:
    server, scenario = backstage_app
    # On stage from the start: the sidebar's status check (which would take a scripted reply) never runs.
    page.goto(f"{server.url}/chat?present=1")
    wait_for_app(page)
    fill_and_submit(page, '[data-testid="stChatInputTextArea"]', "hi")
    page.get_by_test_id("stChatMessage").get_by_text("Hello there.", exact=True).wait_for()
    fill_and_submit(page, '[data-testid="stChatInputTextArea"]', "again?")
    page.locator("[class*='st-key-errcard_']").wait_for()
    trace_ids = _trace_ids(server)
    assert len(trace_ids) >= 2
    hidden = _hidden_words(server, scenario, fault_server)
    for path, title in PAGES.items():
        for query in ("present=1", f"present=1&trace={trace_ids[0]}"):
            page.goto(f"{server.url}/{path}?{query}")
            wait_for_app(page)
            page.get_by_text(f"{title} is not shown in presenter mode").wait_for()
            assert not page.get_by_test_id("stSidebar").is_visible()
            assert page.locator(".st-key-presenter_backstage_leave button").is_visible()
            dom = page.content()
            for word in hidden:
                assert word not in dom, (path, word)
    screenshot(page, "presenter-backstage-notice")
    # The notice's way out: the same page, now with its details (the search above would have found them).
    page.goto(f"{server.url}/models?present=1")
    wait_for_app(page)
    page.locator(".st-key-presenter_backstage_leave button").click()
    wait_until_idle(page)
    page.wait_for_function("e => document.documentElement.outerHTML.includes(e)", arg=scenario.endpoint)
    assert "present" not in parse_qs(urlsplit(page.url).query)
    assert page.get_by_test_id("stSidebar").is_visible()
    page.goto(f"{server.url}/traces?trace={trace_ids[0]}")
    wait_for_app(page)
    page.wait_for_function("t => document.documentElement.outerHTML.includes(t)", arg=trace_ids[0])


def test_the_notice_links_back_to_the_stage(page: Any, backstage_app: tuple[AppServer, Scenario]) -> None:
    server, _ = backstage_app
    page.goto(f"{server.url}/evals?present=1")
    wait_for_app(page)
    page.get_by_test_id("stPageLink").filter(has_text="Go to Compare").click()
    wait_until_idle(page)
    assert urlsplit(page.url).path.endswith("/compare")
    page.wait_for_function("() => window.location.search.includes('present=1')")
    assert page.locator(".st-key-presenter_leave button").is_visible()
