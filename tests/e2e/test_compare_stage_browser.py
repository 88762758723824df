"""The compare page on stage (`?present=1`) in headless Chromium: the panes show no deployment picker or sync switch
(the folded Settings panel holds them, and a pick there changes the pane), and the metrics under the panes are the
last turn's large figures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.app_server import (
    AppServer,
    fill_and_submit,
    pick_option,
    run_app_server,
    screenshot,
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stage_compare(fault_server: FaultServer) -> Iterator[tuple[AppServer, dict[str, Scenario]]]:
    """Two deployments, each answering every request with its own line."""
    scenarios = {
        name: fault_server.scenario(Reply(sse=chat_chunks([f"{name} ", "says hi."]))) for name in ("orion", "vega")
    }
    toml = "".join(toml_deployment(name, s.endpoint, max_retries=0) for name, s in scenarios.items())
    with run_app_server(toml) as server:
        yield server, scenarios


def test_on_stage_the_panes_hold_only_the_conversation_and_the_metrics_are_large(
    page: Any, stage_compare: tuple[AppServer, dict[str, Scenario]]
) -> None:
    server, scenarios = stage_compare
    page.goto(f"{server.url}/compare?panes=orion,vega&present=1")
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()
    for uid in ("p1", "p2"):
        pane = page.locator(f".st-key-compare_pane_{uid}")
        assert pane.get_by_text("Deployment", exact=True).count() == 0
        assert pane.get_by_text("Sync settings", exact=True).count() == 0
    assert not page.locator(".st-key-compare_stage_panes").is_visible()  # folded away until Settings is opened
    fill_and_submit(page, '[data-testid="stChatInputTextArea"]', "hello")
    for uid, name in (("p1", "orion"), ("p2", "vega")):
        page.locator(f".st-key-compare_pane_{uid}").get_by_text(f"{name} says hi.", exact=True).wait_for()
    figures = page.locator(".st-key-compare_metrics_stage")
    figures.wait_for()
    assert figures.get_by_test_id("stMetric").count() == 8  # first token, total, speed, tokens per pane
    value = figures.get_by_test_id("stMetricValue").first
    assert value.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 40  # 2.6rem
    assert page.get_by_test_id("stDataFrame").count() == 0
    screenshot(page, "compare-on-stage")
    page.locator("summary").filter(has_text="Settings").first.click()
    wait_until_idle(page)
    panel = page.locator(".st-key-compare_stage_panes")
    assert panel.get_by_text("Sync settings", exact=True).count() == 2
    pick_option(page, "compare-p2-deployment", "orion")
    page.locator(".st-key-compare_pane_p2").locator("strong", has_text="orion (2)").wait_for()
    fill_and_submit(page, '[data-testid="stChatInputTextArea"]', "again")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stChatMessage]').length >= 8")
    wait_until_idle(page)
    sent = {name: len([r for r in s.requests if r.path.endswith("/chat/completions")]) for name, s in scenarios.items()}
    assert sent == {"orion": 3, "vega": 1}  # the second turn went to orion in both panes
