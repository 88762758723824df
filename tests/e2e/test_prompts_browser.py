"""The Prompts page in headless Chromium against the embedded endpoint: a prompt opened, its variable filled, run with
the answer streaming in; and a chat saved as a prompt, then found in the library."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fixtures.app_server import AppServer, cap_max_tokens, screenshot, wait_for_app, wait_until_idle

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"


def _prompt_file(name: str) -> str:
    return f"""---
name: {name}
description: A story about a place, for the browser test
model:
  api: chat
  configuration:
    azure_deployment: {CHAT}
  parameters:
    max_tokens: 32
sample:
  place: a lighthouse
---
system:
You are a storyteller.

user:
Write a short story about {{{{place}}}}.
"""


def _open_prompts(page: Any, app_url: str) -> None:
    page.goto(f"{app_url}/prompts")
    wait_for_app(page)
    page.get_by_role("heading", name="Prompts").wait_for()


def _streaming_text(page: Any) -> str | None:
    """The growing answer while the run streams (None once its box is gone)."""
    return page.evaluate(
        "() => { const box = document.querySelector('.st-key-prompts_streaming [data-testid=stMarkdownContainer]');"
        " return box ? box.innerText : null; }"
    )


def _row(page: Any, title: str) -> Any:
    return page.locator("[class*='st-key-prompts_row_']").filter(has_text=title)


def test_open_a_prompt_fill_its_variable_and_see_the_answer_stream(
    page: Any, app_url: str, app_server: AppServer
) -> None:
    title = f"Story {uuid.uuid4().hex[:8]}"
    folder = app_server.config_path.parent / "data" / "prompts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{title.lower().replace(' ', '-')}.prompty").write_text(_prompt_file(title))

    _open_prompts(page, app_url)
    _row(page, title).get_by_role("button", name="Open").click()
    wait_until_idle(page)
    variable = page.locator(".st-key-prompts-in-var-place textarea")
    expect(variable).to_have_value("a lighthouse")  # prefilled from the sample
    variable.fill("a small harbour town")
    variable.press("Control+Enter")
    wait_until_idle(page)
    preview = page.locator("[class*='st-key-prompts_rendered_']")
    assert "Write a short story about a small harbour town." in preview.last.inner_text()

    page.get_by_role("button", name="Run").click()
    page.locator(".st-key-prompts-stop").wait_for()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and page.locator(".st-key-prompts-stop").count():
        text = (_streaming_text(page) or "").replace("▌", "").strip()
        if text not in ("…", "") and (not seen or text != seen[-1]):
            seen.append(text)
        page.wait_for_timeout(50)
    assert len(seen) >= 3, seen  # the answer grew while it streamed
    assert all(len(a) < len(b) for a, b in itertools.pairwise(seen)), seen
    answer = page.locator(".st-key-prompts_answer")
    answer.wait_for()
    wait_until_idle(page)
    text = answer.inner_text()
    assert "first token" in text and "tokens/s" in text and "finish: length" in text
    assert seen[-1][:20] in text
    screenshot(page, "prompts-run-streamed")


def test_a_chat_saved_as_a_prompt_is_found_in_the_library(page: Any, app_url: str) -> None:
    name = f"Saved chat {uuid.uuid4().hex[:8]}"
    page.goto(f"{app_url}/chat")
    wait_for_app(page)
    cap_max_tokens(page, 6)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Name a river.")
    box.press("Enter")
    page.locator(".st-key-chat_regenerate").wait_for()
    wait_until_idle(page)

    page.get_by_text("Save as prompt", exact=True).first.click()
    page.get_by_label("Prompt name").fill(name)
    page.get_by_label("Prompt name").press("Enter")
    wait_until_idle(page)
    page.locator(".st-key-chat_prompt_as_variable label").click()
    wait_until_idle(page)
    page.get_by_role("button", name="Save as prompt").click()
    wait_until_idle(page)
    file_name = name.lower().replace(" ", "-") + ".prompty"
    page.get_by_text(f"Saved {file_name} in the prompt library.").wait_for()

    _open_prompts(page, app_url)
    search = page.get_by_label("Search prompts")
    search.fill(name)
    search.press("Enter")
    wait_until_idle(page)
    row = _row(page, name)
    assert row.count() == 1 and "question" in row.inner_text()
    row.get_by_role("button", name="Open").click()
    wait_until_idle(page)
    expect(page.locator(".st-key-prompts-in-var-question textarea")).to_have_value("Name a river.")
    screenshot(page, "prompts-saved-from-chat")
