"""In the browser: the configured key and a session-added key never reach the page, the exports or the code view;
export then import continues the conversation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import (
    ENDPOINT_KEY,
    AppServer,
    cap_max_tokens,
    run_app_server,
    screenshot,
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)

pytestmark = pytest.mark.e2e
CHAT = "smollm2-135m-instruct"
SESSION_KEY = "pg-session-key-2718281828"


@pytest.fixture(scope="module")
def keyed_app(keyed_local_endpoint_url: str) -> Iterator[AppServer]:
    """The app with one deployment whose key (from the file) the endpoint requires."""
    config = toml_deployment(CHAT, f"{keyed_local_endpoint_url}/{CHAT}", key=ENDPOINT_KEY)
    with run_app_server(config) as server:
        yield server


def _assert_no_key(page: Any) -> None:
    html = page.content()
    assert ENDPOINT_KEY not in html
    assert SESSION_KEY not in html


def _download(page: Any, label: str, tmp_path: Path) -> str:
    with page.expect_download() as info:
        page.get_by_role("button", name=label).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target.read_text()


def test_key_never_reaches_the_page_exports_or_code(
    page: Any, keyed_app: AppServer, keyed_local_endpoint_url: str, tmp_path: Path
) -> None:
    page.goto(f"{keyed_app.url}/chat")
    wait_for_app(page)
    cap_max_tokens(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Name a colour.")
    box.press("Enter")
    page.locator(".st-key-chat_regenerate").wait_for(timeout=90_000)  # answered: the key from the file works
    _assert_no_key(page)

    page.get_by_text("View code", exact=True).click()
    for tab in ("azure-ai-inference", "openai", "curl"):
        page.get_by_role("tab", name=tab).click()
        code = page.get_by_test_id("stCode").locator("visible=true").first.inner_text()
        assert "AZUREAI_ENDPOINT_KEY" in code and ENDPOINT_KEY not in code
        assert "Name a colour." in code
    _assert_no_key(page)

    page.get_by_text("Export / import", exact=True).click()
    exported = _download(page, "Export JSON", tmp_path)
    markdown = _download(page, "Export Markdown", tmp_path)
    assert ENDPOINT_KEY not in exported and ENDPOINT_KEY not in markdown
    data = json.loads(exported)
    assert data["deployment"] == CHAT and data["parameters"] == {"max_tokens": 256}
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert "## User\n\nName a colour." in markdown

    # A session deployment: the key goes in a password field and is gone from the page once added.
    page.get_by_text("Add deployment", exact=True).click()
    page.locator(".st-key-add_name input").fill("session-dep")
    page.locator(".st-key-add_endpoint input").fill(f"{keyed_local_endpoint_url}/{CHAT}")
    key_field = page.locator(".st-key-add_key input")
    assert key_field.get_attribute("type") == "password"
    key_field.fill(SESSION_KEY)
    page.get_by_role("button", name="Check and add").click()
    page.get_by_text("did not accept its key").wait_for()  # a wrong key is checked, refused and named
    key_field.fill(ENDPOINT_KEY)
    page.get_by_role("button", name="Check and add").click()
    page.get_by_text("Added session-dep for this session.").wait_for()
    wait_until_idle(page)
    assert key_field.input_value() == ""
    _assert_no_key(page)
    screenshot(page, "chat-keys-hidden")

    # Import continues the exported conversation after a clear.
    page.get_by_role("button", name="Clear conversation").click()
    wait_until_idle(page)
    assert page.get_by_test_id("stChatMessage").count() == 0
    export_file = tmp_path / "chat.json"
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(export_file))
    page.get_by_text("Imported 2 messages from chat.json.").wait_for()
    wait_until_idle(page)  # the notice is drawn before the messages
    assert page.get_by_test_id("stChatMessage").count() == 2
    assert "Name a colour." in page.get_by_test_id("stChatMessage").first.inner_text()

    # A broken file is refused with the position of the mistake, and the conversation stays.
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "model-playground/chat",\n  "version": 1,,\n}')
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(broken))
    page.get_by_text("broken.json: The file is not valid JSON").wait_for()
    assert "line 2, column 16" in page.get_by_test_id("stAlertContentError").last.inner_text()
    assert page.get_by_test_id("stChatMessage").count() == 2
