"""The models page's capability map at 1400 px in Chromium: every column, stop and pass-through extra included, in
view without scrolling the table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.probe import CAPABILITIES
from tests.fixtures.app_server import AppServer, local_deployments_toml, run_app_server, wait_for_app, wait_until_idle

pytestmark = pytest.mark.e2e

# The grid's scrolling box: content wider than the box means columns hidden to the right.
WIDTHS_JS = "el => { const s = el.querySelector('.dvn-scroller'); return [s.scrollWidth, s.clientWidth]; }"


@pytest.fixture(scope="module")
def models_app(local_endpoint_url: str) -> Iterator[AppServer]:
    """The app with the embedded endpoint's four deployments."""
    with run_app_server(local_deployments_toml(local_endpoint_url)) as server:
        yield server


def test_capability_map_shows_every_column_at_1400_px_after_a_probe(page: Any, models_app: AppServer) -> None:
    assert page.viewport_size["width"] == 1400
    page.goto(f"{models_app.url}/models")
    wait_for_app(page)
    page.get_by_role("button", name="Probe").click()
    wait_until_idle(page)
    page.get_by_text("smollm2-135m-instruct: details (probed at").wait_for()
    frames = page.locator('[data-testid="stDataFrame"]')
    headers: list[str] = []
    for index in (1, 2):  # the overview is frame 0; the map's two tables follow it
        frame = frames.nth(index)
        frame.locator('[role="gridcell"]').first.wait_for(state="attached")
        scroll, client = frame.evaluate(WIDTHS_JS)
        assert scroll <= client + 1, f"table {index}: {scroll} px of columns in {client} px, the last ones hidden"
        headers += frame.locator('[role="columnheader"]').all_text_contents()
    # The grid draws (and lists) only the columns in view, so every label listed means every column shown.
    assert {c.label for c in CAPABILITIES} <= set(headers), headers
    assert "stop" in headers and "pass-through extra" in headers
