"""The Traces page in headless Chromium: a chat just sent is listed, opens, exports, and "Open in chat" restores it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fixtures.app_server import cap_max_tokens, screenshot, wait_for_app, wait_until_idle

pytestmark = pytest.mark.e2e


def _send_chat(page: Any, app_url: str, text: str) -> str:
    """Send `text` on the chat page and return the answer once it has finished."""
    page.goto(f"{app_url}/chat")
    wait_for_app(page)
    cap_max_tokens(page, 6)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")
    page.locator(".st-key-chat_regenerate").wait_for()
    wait_until_idle(page)
    answer = page.get_by_test_id("stChatMessage").last.get_by_test_id("stMarkdownContainer").first.inner_text()
    assert answer.strip()
    return answer


def _select_first_row(page: Any) -> None:
    """Click the first data row of the traces table (the grid is a canvas: the click lands on its first cell)."""
    grid = page.locator("[class*=st-key-traces_table_] [data-testid=stDataFrame]").first
    grid.wait_for()
    box = grid.bounding_box()
    # Header row, then rows of about 35 px; the selection column sits at the left edge.
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    wait_until_idle(page)


def test_a_sent_chat_is_listed_opened_exported_and_restored_in_chat(page: Any, app_url: str) -> None:
    marker = uuid.uuid4().hex[:8]
    prompt = f"Say the word {marker}."
    answer = _send_chat(page, app_url, prompt)

    page.goto(f"{app_url}/traces")
    wait_for_app(page)
    search = page.locator(".st-key-traces_text input")
    search.fill(marker)
    search.press("Enter")
    wait_until_idle(page)
    page.get_by_text("Traces 1–1 of 1").wait_for()
    _select_first_row(page)
    page.locator(".st-key-traces_open_chat").wait_for()
    wait_until_idle(page)  # the run that drew the trace may still be drawing the export buttons
    trace_id = parse_qs(urlsplit(page.url).query)["trace"][0]
    assert len(trace_id) == 32
    assert prompt in page.get_by_test_id("stJson").first.inner_text()
    screenshot(page, "traces-opened")

    with page.expect_download() as download:
        page.locator(".st-key-traces_export_jsonl button").click()
    [line] = [json.loads(text) for text in Path(download.value.path()).read_text(encoding="utf-8").splitlines()]
    assert line["trace_id"] == trace_id and line["request"]["messages"][-1]["content"] == prompt

    wait_until_idle(page)  # the download reruns the page
    page.get_by_role("button", name="Open in chat").click()
    page.get_by_test_id("stChatInputTextArea").wait_for()
    wait_until_idle(page)
    assert urlsplit(page.url).path == "/chat"
    messages = page.get_by_test_id("stChatMessage")
    assert messages.count() == 2
    assert prompt in messages.first.inner_text() and answer.strip() in messages.last.inner_text()
    assert f"Opened from trace {trace_id}" in page.get_by_test_id("stAlert").first.inner_text()
    screenshot(page, "traces-open-in-chat")
