"""The compare page in headless Chromium: concurrent streaming, Stop, a failing pane, blind mode, the shareable URL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import AppServer, run_app_server, screenshot, toml_deployment, wait_for_app
from tests.fixtures.app_server import wait_until_idle as _wait_until_idle
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-compare-key-never-shown"

WORDS = 24
DELAY = 0.08

# Records, for every DOM change inside a live pane, the pane and the time; read back after the turn.
OBSERVER = """
() => {
  window.__paneUpdates = [];
  const seen = {};
  new MutationObserver(() => {
    document.querySelectorAll('[class*="st-key-compare_live_"]').forEach((el) => {
      const pane = [...el.classList].find((c) => c.startsWith('st-key-compare_live_'));
      const text = el.innerText;
      if (seen[pane] !== text) {
        seen[pane] = text;
        window.__paneUpdates.push({pane, t: performance.now(), n: text.length});
      }
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def wait_until_idle(page: Any) -> None:
    page.wait_for_timeout(300)  # let a just-sent prompt start the run before checking the script state
    _wait_until_idle(page)


@pytest.fixture(scope="module")
def compare_app(fault_server: FaultServer) -> Iterator[tuple[AppServer, dict[str, Scenario]]]:
    words = [f"w{i} " for i in range(WORDS)]
    # The sidebar's /info status check is each scenario's first request (on the first page load): answer it at once.
    info = Reply(json={"model_name": "scripted", "model_type": "chat-completion", "model_provider_name": "test"})
    denied = Reply(status=401, json={"statusCode": 401, "message": "Auth token invalid"})
    scenarios = {
        "alpha": fault_server.scenario(info, Reply(sse=chat_chunks(words), chunk_delay=DELAY)),
        "beta": fault_server.scenario(info, Reply(sse=chat_chunks(words), chunk_delay=DELAY)),
        "gamma": fault_server.scenario(info, Reply(sse=chat_chunks(words[:16]), chunk_delay=DELAY * 1.5)),
        "broken": fault_server.scenario(denied),
        "endless": fault_server.scenario(
            info, Reply(sse=chat_chunks([f"e{i} " for i in range(600)]), chunk_delay=0.05)
        ),
    }
    keys = {"broken": {"key": KEY}}
    toml = "".join(
        toml_deployment(name, s.endpoint, max_retries=0, **keys.get(name, {})) for name, s in scenarios.items()
    )
    with run_app_server(toml) as server:
        yield server, scenarios


def open_compare(page: Any, server: AppServer, panes: str) -> None:
    page.goto(f"{server.url}/compare?panes={panes}")
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()


def send(page: Any, prompt: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(prompt)
    box.press("Enter")


def chat_requests(scenario: Scenario) -> int:
    """Chat calls only: the sidebar's /info status checks reach the same scenario."""
    return sum(r.path.endswith("/chat/completions") for r in scenario.requests)


def pane(page: Any, uid: str) -> Any:
    return page.locator(f".st-key-compare_pane_{uid}")


def test_panes_stream_at_the_same_time_in_the_browser(page, compare_app):
    server, _ = compare_app
    open_compare(page, server, "alpha,beta,gamma")
    page.evaluate(OBSERVER)
    send(page, "stream please")
    page.locator(".st-key-compare_live_p1").wait_for()
    page.wait_for_timeout(int(WORDS * DELAY * 1000 / 2))
    screenshot(page, "compare-streaming")
    wait_until_idle(page)
    updates = page.evaluate("window.__paneUpdates")
    by_pane: dict[str, list[float]] = {}
    for update in updates:
        by_pane.setdefault(update["pane"], []).append(update["t"])
    assert set(by_pane) == {f"st-key-compare_live_p{i}" for i in (1, 2, 3)}, by_pane.keys()
    assert all(len(times) >= 4 for times in by_pane.values()), {k: len(v) for k, v in by_pane.items()}
    # Each pane was updated while every other pane was still being updated: the windows overlap.
    windows = [(min(times), max(times)) for times in by_pane.values()]
    assert max(first for first, _ in windows) < min(last for _, last in windows)
    # And the whole turn took about as long as the slowest pane, not the sum of the three.
    span_s = (max(last for _, last in windows) - min(first for first, _ in windows)) / 1000
    assert span_s < 16 * DELAY * 1.5 + WORDS * DELAY, f"turn took {span_s:.1f} s"
    for uid in ("p1", "p2"):
        assert "w23" in pane(page, uid).inner_text()
    page.get_by_text("Metrics").first.wait_for()
    screenshot(page, "compare-finished")


def test_stop_stops_every_pane_and_keeps_what_arrived(page, compare_app):
    server, _ = compare_app
    open_compare(page, server, "endless,endless")
    send(page, "go on forever")
    for uid in ("p1", "p2"):
        page.locator(f".st-key-compare_live_{uid}").get_by_text("e3").wait_for()
    page.locator(".st-key-compare-stop button").click()
    wait_until_idle(page)
    for uid in ("p1", "p2"):
        text = pane(page, uid).inner_text()
        assert "stopped: the text above is what arrived" in text
        assert "e3" in text and "e599" not in text
    assert page.locator(".st-key-compare-stop").count() == 0
    screenshot(page, "compare-stopped")


def test_a_failing_pane_shows_its_error_card_beside_healthy_panes(page, compare_app):
    server, _ = compare_app
    open_compare(page, server, "alpha,broken,beta")
    send(page, "who answers?")
    pane(page, "p2").locator('[class*="st-key-errcard_"]').first.wait_for()
    wait_until_idle(page)
    assert "broken did not accept its key" in pane(page, "p2").inner_text()
    for uid in ("p1", "p3"):
        assert "w23" in pane(page, uid).inner_text()
        assert pane(page, uid).locator('[class*="st-key-errcard_"]').count() == 0
    screenshot(page, "compare-pane-error")
    assert KEY not in page.content()
    with page.expect_download() as download:
        page.locator(".st-key-compare-export button").click()
    exported = Path(download.value.path()).read_text()
    assert exported.startswith("<!DOCTYPE html>")
    for expected in ("who answers?", "w23", "Auth token invalid", "broken", "Vote: no vote"):
        assert expected in exported, expected
    assert KEY not in exported


def test_the_url_follows_every_change_and_opens_the_same_comparison(page, compare_app, browser):
    server, _ = compare_app
    open_compare(page, server, "alpha,beta")
    page.get_by_role("button", name="Add pane").click()
    page.wait_for_url(re.compile(r"panes=alpha(%2C|,)beta(%2C|,)beta"))
    pane(page, "p3").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="gamma").click()
    page.wait_for_url(re.compile(r"panes=alpha(%2C|,)beta(%2C|,)gamma"))
    pane(page, "p1").get_by_role("button", name="✕").click()
    page.wait_for_url(re.compile(r"panes=beta(%2C|,)gamma$"))
    shared = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    shared.goto(page.url)
    wait_for_app(shared)
    headers = [shared.locator(f".st-key-compare_pane_p{i}").locator("strong").first.inner_text() for i in (1, 2)]
    assert headers == ["beta", "gamma"]
    shared.context.close()


def test_clicking_inside_a_pane_sends_nothing_and_model_extras_reach_the_request(page, compare_app):
    server, scenarios = compare_app
    open_compare(page, server, "alpha,gamma")
    page.get_by_text("Shared system prompt and parameters").click()
    extras = page.get_by_label("model_extras (JSON object of parameters the API does not define)")
    extras.fill('{"top_k": 2')
    extras.press("Control+Enter")
    card = page.locator(".st-key-errcard_settings_shared")
    card.wait_for()
    # The card's title can be drawn before its details on a busy machine: wait for the position to be named.
    card.get_by_text("line 1, column 12").wait_for()
    # The chat input comes after the card in the same run: read it once the run is over.
    wait_until_idle(page)
    assert page.get_by_test_id("stChatInputTextArea").is_disabled()
    screenshot(page, "compare-settings-bad-json")
    extras.fill('{"top_k": 2}')
    extras.press("Control+Enter")
    card.wait_for(state="detached")
    send(page, "exactly once")
    wait_until_idle(page)
    last_chat = [r for r in scenarios["alpha"].requests if r.path.endswith("/chat/completions")][-1]
    assert last_chat.json()["top_k"] == 2 and last_chat.headers["extra-parameters"] == "pass-through"
    sent = chat_requests(scenarios["alpha"]), chat_requests(scenarios["gamma"])
    toggle = pane(page, "p1").get_by_text("Sync settings")
    toggle.click()
    wait_until_idle(page)
    toggle.click()
    wait_until_idle(page)
    pane(page, "p2").get_by_text("Sync settings").click()
    wait_until_idle(page)
    page.wait_for_timeout(500)
    assert (chat_requests(scenarios["alpha"]), chat_requests(scenarios["gamma"])) == sent
    assert pane(page, "p1").get_by_text("exactly once").count() == 1


def test_blind_mode_hides_names_takes_a_vote_and_reveals_the_tally(page, compare_app):
    server, _ = compare_app
    open_compare(page, server, "alpha,gamma")
    page.get_by_text("Blind mode").click()
    wait_until_idle(page)
    send(page, "blind question")
    wait_until_idle(page)
    panes_text = pane(page, "p1").inner_text() + pane(page, "p2").inner_text()
    assert "Model A" in panes_text and "Model B" in panes_text
    assert "alpha" not in panes_text and "gamma" not in panes_text
    screenshot(page, "compare-blind")
    vote = page.locator(".st-key-compare_vote")
    vote.get_by_text("Model B", exact=True).click()
    wait_until_idle(page)
    assert "1 vote(s) recorded" in vote.inner_text()
    vote.get_by_role("button", name="Reveal names").click()
    wait_until_idle(page)
    tally = page.locator(".st-key-compare_vote").inner_text()
    assert re.search(r"(alpha|gamma): 1", tally), tally
    screenshot(page, "compare-blind-revealed")


def test_continue_with_this_one_opens_the_chat_page_with_that_conversation(page, compare_app):
    server, _ = compare_app
    open_compare(page, server, "alpha,gamma")
    send(page, "carry me over")
    wait_until_idle(page)
    page.locator(".st-key-compare-p2-continue").get_by_role("button").click()
    # The chat page is the default page, so its URL is "/" (or "/chat").
    page.wait_for_url(lambda url: "/compare" not in url, wait_until="commit")
    wait_until_idle(page)
    messages = page.get_by_test_id("stChatMessage")
    messages.first.wait_for()
    texts = messages.all_inner_texts()
    assert "carry me over" in texts[0] and "w15" in texts[1], texts
    screenshot(page, "compare-continued-in-chat")
