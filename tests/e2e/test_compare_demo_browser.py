"""The demo script on the compare page in headless Chromium, on stage (`?present=1`): picked from the folded
settings, one click on "Next" sends the script's first prompt to both panes, as the recording fault server sees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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
    "name: Compare tour\nmessages:\n"
    "  - role: user\n    content: Say hello.\n"
    "  - role: user\n    content: Name three colours.\n"
)


@pytest.fixture(scope="module")
def demo_compare(
    fault_server: FaultServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AppServer, dict[str, Scenario]]]:
    """Two deployments, each answering every request with its own line; a two-prompt script in the library."""
    prompts = tmp_path_factory.mktemp("prompts")
    (prompts / "compare-tour.prompt.yml").write_text(SCRIPT)
    # One reply, repeated: a status check before the chat call cannot use up the answer.
    scenarios = {
        name: fault_server.scenario(Reply(sse=chat_chunks([f"{name} says hi."]))) for name in ("orion", "vega")
    }
    toml = "".join(toml_deployment(name, s.endpoint, max_retries=0) for name, s in scenarios.items())
    with run_app_server(toml, {"PLAYGROUND_PROMPTS_DIR": str(prompts)}) as server:
        yield server, scenarios


def user_messages(scenario: Scenario) -> list[list[str]]:
    bodies = [r.json() for r in scenario.requests if r.path.endswith("/chat/completions")]
    return [[m["content"] for m in body["messages"] if m["role"] == "user"] for body in bodies]


def test_next_on_stage_sends_the_scripts_prompt_to_both_panes(
    page: Any, demo_compare: tuple[AppServer, dict[str, Scenario]]
) -> None:
    server, scenarios = demo_compare
    page.goto(f"{server.url}/compare?panes=orion,vega&present=1")
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()
    assert not page.get_by_test_id("stSidebar").is_visible()
    page.locator("summary").filter(has_text="Settings").first.click()
    wait_until_idle(page)
    page.locator("summary").filter(has_text="Demo script").click()
    wait_until_idle(page)
    page.locator(".st-key-compare_demo_pick").get_by_role("combobox").click()
    page.get_by_role("option", name="Compare tour").click()
    wait_until_idle(page)
    button = page.locator(".st-key-compare_demo_next button")
    assert button.inner_text().strip().endswith("Next: Say hello.")
    button.click()
    for pane, name in (("p1", "orion"), ("p2", "vega")):
        page.locator(f".st-key-compare_pane_{pane}").get_by_text(f"{name} says hi.", exact=True).wait_for()
    wait_until_idle(page)
    assert page.locator(".st-key-compare_demo_next button").inner_text().strip().endswith("Next: Name three colours.")
    screenshot(page, "presenter-compare-demo-step")
    for name, scenario in scenarios.items():
        assert user_messages(scenario) == [["Say hello."]], name
