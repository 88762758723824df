"""Blind compare in headless Chromium: nothing outside the sidebar names a deployment or a model (URL, title, page
HTML, export), a blind link opens blind in a fresh session and after a restart, pane labels keep whole words at
four panes in 1280 px, and the back button leaves the compare page in one step."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import AppServer, run_app_server, screenshot, toml_deployment, wait_for_app
from tests.fixtures.app_server import wait_until_idle as _wait_until_idle
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_chunks

pytestmark = pytest.mark.e2e

# Deployment -> the model its /info reports (and its stream names): every one distinctive, so any leak is found.
MODELS = {
    "zircon-east-deploy": "obsidian-7b-instruct",
    "quartz-west-deploy": "malachite-13b-chat",
    "garnet-north-deploy": "tourmaline-70b-preview",
}
FAILING = "garnet-north-deploy"
# Four long one-word names for the layout check (a hyphen is a fair place to wrap; these have none).
LONG = ["contosogptfourominieastustwo", "fabrikamllamainstructseventyb", "northwindphithreemedium", "tailspinmistral"]
WORDS = [f"w{i} " for i in range(12)]


def wait_until_idle(page: Any) -> None:
    page.wait_for_timeout(300)  # let a click or a prompt start its run before checking the script state
    _wait_until_idle(page)


def _chunks(model: str) -> list[Any]:
    return [dict(c, model=model) if isinstance(c, dict) else c for c in chat_chunks(WORDS)]


@pytest.fixture(scope="module")
def blind_app(fault_server: FaultServer) -> Iterator[dict[str, Any]]:
    scenarios: dict[str, Scenario] = {}
    for name, model in MODELS.items():
        info = Reply(json={"model_name": model, "model_type": "chat-completion", "model_provider_name": "test"})
        scenarios[name] = fault_server.scenario(info, Reply(sse=_chunks(model)))
    # The failing deployment's error names its model, its deployment and its endpoint, as real endpoints do.
    failing = scenarios[FAILING]
    message = f"Model {MODELS[FAILING]} of {FAILING} at {failing.endpoint} cannot serve this request"
    failing.replies[1] = Reply(status=400, json={"error": {"code": "invalid_request", "message": message}})
    info = Reply(json={"model_name": "m", "model_type": "chat-completion", "model_provider_name": "test"})
    for name in LONG:
        scenarios[name] = fault_server.scenario(info, Reply(sse=chat_chunks(WORDS)))
    toml = "".join(toml_deployment(name, s.endpoint, max_retries=0) for name, s in scenarios.items())
    data_dir = tempfile.mkdtemp(prefix="blind-links-")  # kept for the restarted server: the link key lives here
    with run_app_server(toml, {"PLAYGROUND_DATA_DIR": data_dir}) as server:
        yield {"server": server, "scenarios": scenarios, "toml": toml, "data_dir": data_dir}


def open_compare(page: Any, url: str) -> None:
    page.goto(url)
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()


def send(page: Any, prompt: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(prompt)
    box.press("Enter")
    wait_until_idle(page)


def chat_requests(scenario: Scenario) -> int:
    return sum(r.path.endswith("/chat/completions") for r in scenario.requests)


def html_outside_sidebar(page: Any) -> str:
    """The whole document's HTML without the sidebar (which may list the candidates)."""
    return page.evaluate(
        "() => { const d = document.documentElement.cloneNode(true);"
        " d.querySelectorAll('[data-testid=stSidebar]').forEach((e) => e.remove()); return d.outerHTML; }"
    )


def leaks(text: str, endpoints: list[str]) -> list[str]:
    """Every deployment or model name (or a distinctive part of one) or endpoint found in `text`."""
    words = [*MODELS, *MODELS.values(), *{w.split("-")[0] for w in (*MODELS, *MODELS.values())}, *endpoints]
    return [word for word in words if word.lower() in text.lower()]


def export(page: Any) -> str:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # A click landing during a rerun can start no download on a busy machine: settle and click once more.
    for attempt in range(2):
        try:
            with page.expect_download() as info:
                page.locator(".st-key-compare-export button").click()
            return Path(info.value.path()).read_text()
        except PlaywrightTimeout:
            if attempt:
                raise
            wait_until_idle(page)
    raise AssertionError("unreachable")


def test_blind_mode_names_no_deployment_or_model_outside_the_sidebar_until_revealed(page, blind_app):
    server: AppServer = blind_app["server"]
    endpoints = [s.endpoint.split("://", 1)[1] for s in blind_app["scenarios"].values()]
    open_compare(page, f"{server.url}/compare?panes={','.join(MODELS)}")
    page.get_by_text("Blind mode").click()
    wait_until_idle(page)
    page.wait_for_url(re.compile(r"[?&]blind="))
    send(page, "which one is better?")
    page.locator('[class*="st-key-errcard_"]').first.get_by_text("rejected the request").wait_for()
    wait_until_idle(page)
    screenshot(page, "compare-blind-nothing-named")
    main = html_outside_sidebar(page)
    assert "Model A" in main and "Model C" in main and "w11" in main
    assert re.search(r"Model [ABC] rejected the request", main), "the error card should name the pane's label"
    exported = export(page)
    assert "Model A" in exported and "w11" in exported and "cannot serve this request" in exported
    for where, text in {"url": page.url, "title": page.title(), "page": main, "export": exported}.items():
        assert not leaks(text, endpoints), f"{where} names {leaks(text, endpoints)} while blind"
    # The search can find names: the sidebar lists the candidates.
    sidebar = page.locator('[data-testid="stSidebar"]').inner_html()
    assert all(name in sidebar for name in MODELS)

    page.locator(".st-key-compare_vote").get_by_role("button", name="Reveal names").click()
    wait_until_idle(page)
    page.wait_for_url(re.compile(r"[?&]panes="))
    revealed = html_outside_sidebar(page)
    assert all(f'title="{name}"' in revealed for name in MODELS), "reveal should name every pane again"
    assert all(name in page.url for name in MODELS)


def _opens_blind_on_the_same_panes(page: Any, url: str, scenarios: dict[str, Scenario], prompt: str) -> None:
    """The link opens blind (labels, no deployment picker, no names) and sends to the linked deployments."""
    open_compare(page, url)
    assert page.url == url, "opening the link should not change its address"
    headers = [page.locator(f".st-key-compare_pane_p{i} strong").first.inner_text() for i in (1, 2)]
    assert sorted(headers) == ["Model A", "Model B"]
    assert page.locator('[class*="st-key-compare_pane_"] [data-testid="stSelectbox"]').count() == 0
    before = {name: chat_requests(s) for name, s in scenarios.items()}
    send(page, prompt)
    after = {name: chat_requests(s) for name, s in scenarios.items()}
    assert {n for n in after if after[n] > before[n]} == {"zircon-east-deploy", "quartz-west-deploy"}
    assert not leaks(html_outside_sidebar(page), [])


def test_a_blind_link_opens_blind_in_a_fresh_session_and_after_a_restart(page, browser, blind_app):
    server: AppServer = blind_app["server"]
    scenarios: dict[str, Scenario] = blind_app["scenarios"]
    open_compare(page, f"{server.url}/compare?panes=zircon-east-deploy,quartz-west-deploy")
    page.get_by_text("Blind mode").click()
    wait_until_idle(page)
    page.wait_for_url(re.compile(r"[?&]blind="))
    link = page.url
    assert not leaks(link, [])

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _opens_blind_on_the_same_panes(fresh, link, scenarios, "from a fresh session")
    fresh.context.close()

    with run_app_server(blind_app["toml"], {"PLAYGROUND_DATA_DIR": blind_app["data_dir"]}) as restarted:
        moved = link.replace(server.url, restarted.url)
        again = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        _opens_blind_on_the_same_panes(again, moved, scenarios, "after a restart")
        screenshot(again, "compare-blind-link-after-restart")
        again.context.close()


LINE_CHECK = """(el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  const style = getComputedStyle(el.parentElement);
  return {lines: lines.size, title: el.title, cut: el.scrollWidth > el.clientWidth,
          whiteSpace: style.whiteSpace, ellipsis: getComputedStyle(el).textOverflow};
}"""


def test_four_narrow_panes_keep_each_label_on_one_line_with_the_full_name_in_its_tooltip(browser, blind_app):
    server: AppServer = blind_app["server"]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    open_compare(page, f"{server.url}/compare?panes={','.join(LONG)}")
    screenshot(page, "compare-four-narrow-panes")
    labels = [page.locator(f".st-key-compare_pane_p{i} strong").first for i in range(1, 5)]
    checks = [label.evaluate(LINE_CHECK) for label in labels]
    for name, check in zip(LONG, checks, strict=True):
        assert check["lines"] == 1 and check["whiteSpace"] == "nowrap" and check["ellipsis"] == "ellipsis", check
        assert check["title"] == name
    assert any(check["cut"] for check in checks), "no label was too long for its pane: the check proves nothing"
    page.get_by_text("Blind mode").click()
    wait_until_idle(page)
    blind = [label.evaluate(LINE_CHECK) for label in labels]
    assert sorted(check["title"] for check in blind) == ["Model A", "Model B", "Model C", "Model D"]
    assert all(check["lines"] == 1 for check in blind)
    page.context.close()


def test_back_after_using_the_compare_page_returns_to_the_chat_page(page, blind_app):
    server: AppServer = blind_app["server"]
    page.goto(f"{server.url}/chat")
    wait_for_app(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Compare").click()
    wait_for_app(page)
    page.wait_for_url(re.compile(r"/compare\?panes="))
    entries = page.evaluate("history.length")
    page.get_by_role("button", name="Add pane").click()
    wait_until_idle(page)
    page.wait_for_url(re.compile(r"panes=[^&]*(%2C|,)[^&]*(%2C|,)"))
    send(page, "one turn")
    page.get_by_role("button", name="Continue with this one").first.wait_for()
    assert page.evaluate("history.length") == entries, "a change of the compare URL added a history entry"
    page.go_back()
    wait_until_idle(page)
    page.wait_for_url(re.compile(r"/chat(\?|$)"))
    assert page.locator(".st-key-compare_toolbar").count() == 0
