"""Stop works at once even while the endpoint has not sent its first byte (the stream is read in a worker)."""

from __future__ import annotations

import time
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
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def slow_start_app(fault_server: FaultServer) -> Iterator[AppServer]:
    """The app with one deployment whose answers start only after 30 seconds."""
    no_info = Reply(status=404, text="NOT FOUND")  # the sidebar's status check comes first
    scenario = fault_server.scenario(no_info, Reply(sse=chat_chunks(["too", " late"]), first_byte_delay=30.0))
    with run_app_server(toml_deployment("slow-start", scenario.endpoint, max_retries=0)) as server:
        yield server


def test_stop_before_the_first_token_answers_at_once(page: Any, slow_start_app: AppServer) -> None:
    page.goto(f"{slow_start_app.url}/chat")
    wait_for_app(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Are you there?")
    box.press("Enter")
    page.locator(".st-key-chat_stop").wait_for()
    page.wait_for_timeout(500)
    clicked = time.monotonic()
    page.locator(".st-key-chat_stop button").click()
    page.get_by_text("stopped before the first token: nothing arrived").wait_for(timeout=5_000)
    assert time.monotonic() - clicked < 5
    # The Stop button of the interrupted run is removed only when the new run ends.
    wait_until_idle(page)
    assert page.locator(".st-key-chat_stop").count() == 0
    first = page.get_by_test_id("stChatMessage").first.inner_text()
    # The unanswered prompt stays, marked, and is left out of the next request (no two user messages in a row).
    assert "Are you there?" in first and "not sent again" in first
    screenshot(page, "chat-stopped-before-first-token")
