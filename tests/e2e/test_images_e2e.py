"""The images page in Chromium: three uploads and a broken file, then the heatmap and the projection."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.fixtures.app_server import screenshot, wait_for_app, wait_until_idle

pytestmark = pytest.mark.e2e


def _image(colour: tuple[int, int, int], fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (240, 160), colour).save(buffer, format=fmt)
    return buffer.getvalue()


def test_three_uploads_make_a_heatmap_and_a_projection_and_a_broken_file_is_named(page: Any, app_url: str) -> None:
    page.goto(f"{app_url}/images")
    wait_for_app(page)
    page.locator('input[type="file"]').set_input_files(
        [
            {"name": "red.png", "mimeType": "image/png", "buffer": _image((220, 30, 30), "PNG")},
            {"name": "blue.jpg", "mimeType": "image/jpeg", "buffer": _image((30, 30, 220), "JPEG")},
            {"name": "green.webp", "mimeType": "image/webp", "buffer": _image((30, 200, 30), "WEBP")},
            {"name": "broken.png", "mimeType": "image/png", "buffer": b"this is not a png at all"},
        ]
    )
    wait_until_idle(page)
    alert = page.get_by_text("broken.png is left out")
    alert.wait_for()
    assert "not an image" in alert.inner_text()
    page.get_by_role("button", name="Embed").click()
    wait_until_idle(page)
    page.get_by_text("Embedded 3 image(s) with image-descriptor").wait_for()
    plots = page.locator(".js-plotly-plot")
    plots.nth(1).wait_for()
    assert plots.count() == 2
    # Thumbnails along both axes of the heatmap, one at every point of the projection.
    assert plots.nth(0).locator("g.layer-above image").count() == 6
    assert plots.nth(1).locator("g.layer-above image").count() == 3
    # Streamlit scrolls inside its own container, so a tall viewport is what gets the plots into the picture.
    page.set_viewport_size({"width": 1400, "height": 2200})
    screenshot(page, "images-three-uploads")
