"""A chat conversation survives a reload, a new browser and an app restart: its id travels in the URL as `?c=`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.store.conversations import STORE_FILE, ConversationStore
from services.transcript import from_json
from tests.fixtures.app_server import (
    AppServer,
    cap_max_tokens,
    local_deployments_toml,
    run_app_server,
    screenshot,
    wait_for_app,
    wait_until_idle,
)

pytestmark = pytest.mark.e2e

QUESTION = "Name one colour of the sea."


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory the apps of this module share (so a restarted app finds what the first one saved)."""
    return tmp_path_factory.mktemp("chat-persist-data")


@pytest.fixture(scope="module")
def persist_app(local_endpoint_url: str, data_dir: Path) -> Iterator[AppServer]:
    """The app on the embedded endpoint, with its own data directory."""
    with run_app_server(local_deployments_toml(local_endpoint_url), {"PLAYGROUND_DATA_DIR": str(data_dir)}) as server:
        yield server


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Opens pages in fresh browser contexts (each one a new Streamlit session, as after a reload)."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        opened = context.new_page()
        opened.set_default_timeout(30_000)
        return opened

    yield make
    for context in contexts:
        context.close()


def _conversation_id(page: Any) -> str:
    page.wait_for_url(re.compile(r"[?&]c="))
    return parse_qs(urlsplit(page.url).query)["c"][0]


def _messages(page: Any) -> list[str]:
    return [m.inner_text() for m in page.get_by_test_id("stChatMessage").all()]


def _send_one_turn(page: Any, url: str) -> tuple[str, str]:
    """Send QUESTION with a short answer; return (conversation id, answer text)."""
    page.goto(f"{url}/chat")
    wait_for_app(page)
    cap_max_tokens(page, 8)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(QUESTION)
    box.press("Enter")
    page.locator(".st-key-chat_regenerate").wait_for(timeout=60_000)
    wait_until_idle(page)
    answer = page.get_by_test_id("stChatMessage").last.get_by_test_id("stMarkdownContainer").first.inner_text()
    return _conversation_id(page), answer.strip()


def _open_saved(page: Any, url: str, conversation_id: str) -> None:
    page.goto(f"{url}/chat?c={conversation_id}")
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()


def test_a_new_browser_at_the_same_url_shows_the_conversation_with_its_metrics(
    persist_app: AppServer, data_dir: Path, new_page: Any
) -> None:
    first = new_page()
    conversation_id, answer = _send_one_turn(first, persist_app.url)
    assert answer
    saved = ConversationStore(data_dir / STORE_FILE).load(conversation_id)
    assert saved is not None and from_json(saved).messages[0].content == QUESTION

    second = new_page()
    _open_saved(second, persist_app.url, conversation_id)
    messages = _messages(second)
    assert len(messages) == 2, messages
    assert QUESTION in messages[0] and answer in messages[1]
    assert "tokens/s" in messages[1]
    assert "Restored 2 messages" in second.get_by_test_id("stAlert").first.inner_text()
    # The saved max_tokens came back with the conversation (the same path as "Import JSON").
    second.get_by_text("Parameters", exact=True).click()
    assert second.locator(".st-key-p_max_tokens input").input_value() == "8"
    assert parse_qs(urlsplit(second.url).query)["c"] == [conversation_id]
    screenshot(second, "chat-restored-conversation")


def test_clearing_starts_a_new_conversation_and_the_old_link_still_opens_the_old_one(
    persist_app: AppServer, new_page: Any
) -> None:
    page = new_page()
    conversation_id, answer = _send_one_turn(page, persist_app.url)
    page.locator(".st-key-chat_clear button").click()
    wait_until_idle(page)
    assert _messages(page) == []
    # The cleared page no longer names the old conversation, so a reload does not bring it back.
    assert "c" not in parse_qs(urlsplit(page.url).query)
    page.reload()
    wait_for_app(page)
    page.get_by_test_id("stChatInputTextArea").wait_for()
    assert _messages(page) == []
    old = new_page()
    _open_saved(old, persist_app.url, conversation_id)
    messages = _messages(old)
    assert len(messages) == 2 and QUESTION in messages[0] and answer in messages[1], messages


def test_an_unknown_id_shows_a_notice_and_starts_empty(persist_app: AppServer, new_page: Any) -> None:
    page = new_page()
    _open_saved(page, persist_app.url, "nosuchconversation1234")
    assert "No saved conversation nosuchconversation1234" in page.get_by_test_id("stAlert").first.inner_text()
    assert _messages(page) == []


def test_the_conversation_survives_an_app_restart(
    persist_app: AppServer, local_endpoint_url: str, data_dir: Path, new_page: Any
) -> None:
    conversation_id, answer = _send_one_turn(new_page(), persist_app.url)
    config = local_deployments_toml(local_endpoint_url)
    with run_app_server(config, {"PLAYGROUND_DATA_DIR": str(data_dir)}) as restarted:
        page = new_page()
        _open_saved(page, restarted.url, conversation_id)
        messages = _messages(page)
    assert len(messages) == 2 and QUESTION in messages[0] and answer in messages[1], messages
