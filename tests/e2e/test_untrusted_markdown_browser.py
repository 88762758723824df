"""In a real browser: a model's answer loads no image and runs no HTML, and a read-only share link opens it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

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

PNG = "\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def pixel_app(fault_server: FaultServer) -> Iterator[tuple[AppServer, Scenario, Scenario]]:
    """The app on a deployment whose answer embeds two images on loopback: a tracking pixel served at 127.0.0.1
    (not allowed), and one at `localhost` (allowed by PLAYGROUND_MARKDOWN_IMAGE_HOSTS), each counting its hits."""
    pixel = fault_server.scenario(Reply(text=PNG, content_type="image/png"))
    allowed = fault_server.scenario(Reply(text=PNG, content_type="image/png"))
    port = urlsplit(fault_server.url).port
    allowed_url = allowed.endpoint.replace("127.0.0.1", "localhost") + "/ok.png"
    pieces = [
        "Look ",
        "![tracker](",  # the image arrives in pieces, as a stream would split it
        f"{pixel.endpoint}/pixel.png?q=secret",
        ") and ![fine](",
        f"{allowed_url})",
        f" <img src='{pixel.endpoint}/tag.png'>",
        " <script>document.title='pwned'</script>",
        " [docs](https://evil.example/phish).",
    ]
    no_info = Reply(status=404, text="NOT FOUND")  # the sidebar's status check comes first
    chat = fault_server.scenario(no_info, Reply(sse=chat_chunks(pieces), chunk_delay=0.05))
    env = {"PLAYGROUND_MARKDOWN_IMAGE_HOSTS": f"localhost:{port}"}
    with run_app_server(toml_deployment("pixel-bot", chat.endpoint, max_retries=0), env) as server:
        yield server, pixel, allowed


def _ask(page: Any, url: str) -> Any:
    """Send a message and return the answer's chat message once the run has ended."""
    page.goto(f"{url}/chat")
    wait_for_app(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Show me a picture.")
    box.press("Enter")
    page.locator(".st-key-chat_regenerate").wait_for(timeout=30_000)
    wait_until_idle(page)
    return page.get_by_test_id("stChatMessage").last


def _wait_for_hit(scenario: Scenario, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not scenario.requests and time.monotonic() < deadline:
        time.sleep(0.1)


def test_an_answer_loads_no_remote_image_and_shows_html_as_text(
    page: Any, pixel_app: tuple[AppServer, Scenario, Scenario]
) -> None:
    app, pixel, allowed = pixel_app
    answer = _ask(page, app.url)
    # The allowed host's image is loaded: the browser does fetch images, and the counting works.
    _wait_for_hit(allowed)
    assert allowed.requests, "the allowed image was never requested"
    assert pixel.requests == [], [r.path for r in pixel.requests]
    text = answer.inner_text()
    assert f"{pixel.endpoint}/pixel.png?q=secret" in text
    assert f"<img src='{pixel.endpoint}/tag.png'>" in text
    assert "<script>document.title='pwned'</script>" in text
    assert "https://evil.example/phish" in text
    assert page.title() != "pwned"
    assert page.locator(f"img[src*='{pixel.endpoint}']").count() == 0
    screenshot(page, "chat-untrusted-answer")


def test_a_read_only_link_shows_the_conversation_without_a_message_box(
    page: Any, browser: Any, pixel_app: tuple[AppServer, Scenario, Scenario]
) -> None:
    app, pixel, _ = pixel_app
    _ask(page, app.url)
    page.get_by_text("Export / import", exact=True).click()
    wait_until_idle(page)
    # (A button with a help tooltip is drawn twice in the DOM, hence `first`.)
    page.get_by_role("button", name="Share read-only link").first.click()
    wait_until_idle(page)
    link = page.get_by_test_id("stCode").filter(has_text="?view=").inner_text().strip()
    conversation_id = page.url.split("c=", 1)[1].split("&", 1)[0]
    assert conversation_id not in link
    target = link if link.startswith("http") else app.url + link

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        reader = context.new_page()
        reader.set_default_timeout(30_000)
        reader.goto(target)
        wait_for_app(reader)
        reader.get_by_text("Shared conversation (read-only)").wait_for()
        messages = [m.inner_text() for m in reader.get_by_test_id("stChatMessage").all()]
        assert len(messages) == 2 and "Show me a picture." in messages[0]
        assert f"{pixel.endpoint}/pixel.png?q=secret" in messages[1]
        assert reader.get_by_test_id("stChatInputTextArea").count() == 0
        # The button comes after the messages in the same run: wait for it (a button with a help tooltip is drawn
        # twice in the DOM, once hidden, hence the visible filter).
        reader.get_by_role("button", name="Continue as my own copy").filter(visible=True).first.wait_for()
        assert "c=" not in reader.url and conversation_id not in reader.content()
        screenshot(reader, "chat-read-only-link")
    finally:
        context.close()
    assert pixel.requests == []
