"""Ten thousand pasted lines in Chromium: the page stays responsive, the lines move into a file and are embedded and
plotted from there; a paste over the box's character limit is refused and what was typed stays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.components.embedding_inputs import PASTE_MAX_CHARS, PASTE_MAX_LINES, PASTED_FILE_NAME
from tests.fixtures.app_server import (
    AppServer,
    run_app_server,
    screenshot,
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)
from tests.services.test_embeddings_server import run_toy_server

pytestmark = pytest.mark.e2e

POINTS_JS = "el => el._fullData.filter(t => t.name !== 'search results').reduce((n, t) => n + t._length, 0)"
# What a paste does to the box, without the clipboard: set the value through the native setter (React's own would
# not see the change) and fire the input event the browser fires. Playwright's fill types the text, which Chromium
# does in time growing with the square of the line count (minutes for 10,000 lines) where a paste takes under a second.
PASTE_JS = """
(el, text) => {
  const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;
  setter.call(el, el.value + text);
  el.dispatchEvent(new Event('input', {bubbles: true}));
}
"""


@pytest.fixture(scope="module")
def toy_app() -> Iterator[AppServer]:
    """The app with one deployment on the toy embeddings server."""
    with (
        run_toy_server(dims=64) as toy,
        run_app_server(toml_deployment("toy-bow", f"{toy.url}/toy-bow", max_retries=0)) as server,
    ):
        yield server


def _paste_texts(page: Any, url: str) -> Any:
    page.goto(f"{url}/embeddings")
    wait_for_app(page)
    page.get_by_text("Paste texts", exact=True).click()
    wait_until_idle(page)
    return page.get_by_label("One text per line")


def test_ten_thousand_pasted_lines_move_into_a_file_and_are_embedded_and_plotted(page: Any, toy_app: AppServer) -> None:
    box = _paste_texts(page, toy_app.url)
    page.get_by_text(f"Up to {PASTE_MAX_LINES:,} lines here").wait_for()
    lines = "\n".join(f"pasted note {i} about topic {i % 7}" for i in range(10_000))
    box.focus()
    box.evaluate(PASTE_JS, lines)
    # The page answers while the box holds the lines: a click elsewhere hands the text to the app, which moves it into
    # a file (the rerun redraws the inputs, so the click lands on the page's title, not on a control it moves).
    page.get_by_role("heading", name="Embeddings").first.click()
    page.get_by_text("The 10,000 pasted lines are more than the text box takes").wait_for(timeout=30_000)
    wait_until_idle(page)
    # And a control answers afterwards: the Options panel opens.
    page.get_by_text("Options", exact=True).click()
    page.get_by_label("Batch size").wait_for(timeout=30_000)
    assert page.get_by_role("radio", name="Upload a file").is_checked()
    assert page.get_by_test_id("stTextArea").count() == 0
    page.get_by_text(f"Current file: {PASTED_FILE_NAME}").wait_for()
    page.get_by_role("button", name="Embed 10,000 texts").click()
    page.get_by_text("10,000 of 10,000 texts embedded").wait_for(timeout=120_000)
    scatter = page.locator(".js-plotly-plot").first
    scatter.wait_for(timeout=60_000)
    wait_until_idle(page, timeout_s=120)
    assert scatter.evaluate(POINTS_JS) == 10_000
    page.set_viewport_size({"width": 1400, "height": 1800})
    screenshot(page, "embeddings-10k-pasted")


def test_a_paste_over_the_character_limit_is_refused_and_the_typed_text_stays(page: Any, toy_app: AppServer) -> None:
    box = _paste_texts(page, toy_app.url)
    box.fill("typed first\ntyped second")
    box.press("Control+Enter")
    wait_until_idle(page)
    box.focus()
    box.evaluate(PASTE_JS, "\n" + "x" * PASTE_MAX_CHARS)
    box.press("Control+Enter")
    wait_until_idle(page)
    assert box.input_value() == "typed first\ntyped second"
    page.get_by_role("button", name="Embed 2 texts").wait_for()
