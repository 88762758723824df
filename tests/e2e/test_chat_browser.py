"""The chat page in headless Chromium against the real embedded endpoint: streaming, Stop, 422 retry, content filter."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.store.refusals import STORE_FILE, RefusalStore
from tests.fixtures.app_server import AppServer, screenshot, wait_for_app, wait_until_idle

pytestmark = pytest.mark.e2e


def _open_chat(page: Any, app_url: str) -> None:
    page.goto(f"{app_url}/chat")
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()


def _send(page: Any, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")


def _answer_text(page: Any) -> str:
    """The visible text of the newest assistant message's answer (not its buttons or captions)."""
    message = page.get_by_test_id("stChatMessage").last
    return message.get_by_test_id("stMarkdownContainer").first.inner_text()


def _open_parameters(page: Any) -> None:
    page.get_by_text("Parameters", exact=True).click()


def _switch_on(page: Any, key: str) -> None:
    page.locator(f".st-key-{key} label").click()
    wait_until_idle(page)


def _set_max_tokens(page: Any, value: int) -> None:
    _switch_on(page, "p_max_tokens_on")
    field = page.locator(".st-key-p_max_tokens input")
    field.fill(str(value))
    field.press("Enter")
    wait_until_idle(page)


def test_answer_text_grows_while_it_streams_then_shows_metrics(page: Any, app_url: str) -> None:
    _open_chat(page, app_url)
    _open_parameters(page)
    _set_max_tokens(page, 48)
    _send(page, "Write a short poem about the sea.")
    page.locator(".st-key-chat_stop").wait_for()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and page.locator(".st-key-chat_stop").count():
        text = _answer_text(page).replace("▌", "").strip()
        if text not in ("…", "") and (not seen or text != seen[-1]):
            seen.append(text)
        page.wait_for_timeout(50)
    assert len(seen) >= 3, seen
    assert all(len(a) < len(b) for a, b in itertools.pairwise(seen)), seen
    page.locator(".st-key-chat_regenerate").wait_for()
    strip = page.get_by_test_id("stChatMessage").last.get_by_test_id("stCaptionContainer").last.inner_text()
    assert "first token" in strip and "tokens/s" in strip and "finish: length" in strip
    screenshot(page, "chat-streamed-answer")


def test_stop_closes_the_stream_and_keeps_the_partial_answer_marked_stopped(page: Any, app_url: str) -> None:
    _open_chat(page, app_url)
    _send(page, "Write a very long story about a dragon, a knight and a lighthouse, in many chapters.")
    page.locator(".st-key-chat_stop").wait_for()
    page.wait_for_function(
        "() => { const m = [...document.querySelectorAll('[data-testid=stChatMessage]')].pop();"
        " const t = m && m.querySelector('[data-testid=stMarkdownContainer]');"
        " return t && t.innerText.includes('▌') && t.innerText.replace(/[…▌\\s]/g, '').length > 20; }",
        timeout=60_000,
    )
    page.locator(".st-key-chat_stop button").click()
    page.get_by_text("stopped: the answer is partial").wait_for()
    wait_until_idle(page)
    kept = _answer_text(page)
    assert len(kept.strip()) > 10 and "▌" not in kept
    page.wait_for_timeout(1500)
    assert _answer_text(page) == kept  # nothing arrives after Stop
    assert page.locator(".st-key-chat_stop").count() == 0
    screenshot(page, "chat-stopped")


@pytest.fixture
def refusals_forgotten_after(app_server: AppServer) -> Iterator[None]:
    """Learned refusals outlive the session on purpose; the shared app server must not carry this test's to others."""
    yield
    store = RefusalStore(app_server.config_path.parent / "data" / STORE_FILE)
    for refusal in store.all():
        store.forget(refusal.deployment, refusal.endpoint, model=refusal.model or None)


@pytest.mark.usefixtures("refusals_forgotten_after")
def test_unsupported_parameter_retry_flow(page: Any, app_url: str) -> None:
    _open_chat(page, app_url)
    _open_parameters(page)
    _set_max_tokens(page, 8)
    _switch_on(page, "p_tools_on")
    _send(page, "What is the weather in Oslo?")
    card = page.locator(".st-key-errcard_1")
    card.wait_for()
    assert "does not support tools" in card.inner_text()
    screenshot(page, "chat-422-card")
    card.get_by_role("button", name="Retry without tools").click()
    page.locator(".st-key-chat_regenerate").wait_for()
    wait_until_idle(page)
    assert _answer_text(page).strip()
    assert page.locator(".st-key-errcard_1").count() == 0
    assert page.get_by_text("Not supported by this deployment").first.is_visible()
    assert page.locator(".st-key-p_tools_on input").is_disabled()


def test_blocked_prompt_shows_the_content_filter_card(page: Any, app_url: str) -> None:
    _open_chat(page, app_url)
    _send(page, "Tell me everything about forbiddenfruit.")
    card = page.locator(".st-key-errcard_1")
    card.wait_for()
    text = card.inner_text()
    assert "The prompt was blocked by the content filter" in text
    assert "category" in text and "severity" in text and "filtered" in text
    assert "Tell me everything about forbiddenfruit." in page.get_by_test_id("stChatMessage").first.inner_text()
    screenshot(page, "chat-content-filter")


@pytest.mark.parametrize("path", ["compare", "embeddings", "images", "models"])
def test_each_page_has_its_url_path(page: Any, app_url: str, path: str) -> None:
    page.goto(f"{app_url}/{path}")
    wait_for_app(page)
    assert page.get_by_test_id("stSidebarNav").get_by_role("link", name=path.capitalize()).get_attribute("href")
    assert urlsplit(page.url).path == f"/{path}"
    assert page.get_by_test_id("stException").count() == 0


def test_root_url_opens_the_chat_page(page: Any, app_url: str) -> None:
    page.goto(app_url)
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()
    assert urlsplit(page.url).path == "/chat"
    assert page.get_by_test_id("stHeading").first.inner_text() == "Chat with smollm2-135m-instruct"


def test_conversation_and_settings_survive_a_visit_to_another_page(page: Any, app_url: str) -> None:
    _open_chat(page, app_url)
    prompt = page.locator(".st-key-chat_system_prompt textarea")
    prompt.fill("Answer in French.")
    prompt.press("Tab")
    wait_until_idle(page)
    _open_parameters(page)
    _set_max_tokens(page, 4)
    _send(page, "Bonjour")
    page.locator(".st-key-chat_regenerate").wait_for()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Embeddings").click()
    wait_until_idle(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Chat").click()
    page.get_by_test_id("stChatInputTextArea").wait_for()
    wait_until_idle(page)
    assert page.locator(".st-key-chat_system_prompt textarea").input_value() == "Answer in French."
    assert page.get_by_test_id("stChatMessage").count() == 2
    _open_parameters(page)
    assert page.locator(".st-key-p_max_tokens input").input_value() == "4"
    assert page.get_by_test_id("stAlertContentWarning").count() == 0
