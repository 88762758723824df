"""In Chromium: a prompt blocked by the content filter does not break the conversation that follows."""

from __future__ import annotations

from typing import Any

import pytest

from services.transcript import FAILED_MARK
from tests.fixtures.app_server import cap_max_tokens, screenshot, wait_for_app, wait_until_idle

pytestmark = pytest.mark.e2e


def _send(page: Any, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")


def test_after_a_blocked_prompt_a_normal_prompt_gets_an_answer(page: Any, app_url: str) -> None:
    page.goto(f"{app_url}/chat")
    wait_for_app(page)
    cap_max_tokens(page, 8)

    _send(page, "What is a forbiddenfruit?")
    page.locator(".st-key-errcard_1").wait_for()
    wait_until_idle(page)
    blocked = page.get_by_test_id("stChatMessage").first
    assert FAILED_MARK in blocked.inner_text()

    _send(page, "Name one colour of the sky.")
    page.locator(".st-key-chat_regenerate").wait_for(timeout=60_000)
    wait_until_idle(page)
    messages = page.get_by_test_id("stChatMessage")
    assert messages.count() == 4
    answer = messages.last.get_by_test_id("stMarkdownContainer").first.inner_text()
    assert answer.strip() and "blocked" not in messages.last.inner_text()
    assert FAILED_MARK in messages.first.inner_text()  # the blocked prompt stays visible, marked
    screenshot(page, "chat-after-blocked-prompt")
