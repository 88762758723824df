"""Uploads outlive a visit to another page in Chromium: a CSV on the embeddings page, two images on the images page."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.fixtures.app_server import screenshot, wait_for_app, wait_until_idle

pytestmark = pytest.mark.e2e


def _visit(page: Any, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_until_idle(page)


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_uploaded_csv_is_the_input_again_after_the_models_page(page: Any, app_url: str) -> None:
    page.goto(f"{app_url}/embeddings")
    wait_for_app(page)
    page.get_by_text("Upload a file", exact=True).click()
    wait_until_idle(page)
    csv = "text,topic\nThe cat sat on the mat.,pets\nStocks fell today.,money\nRain is coming.,weather\n"
    page.locator('input[type="file"]').set_input_files(
        {"name": "three.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    wait_until_idle(page)
    page.get_by_role("button", name="Embed 3 texts").wait_for()
    _visit(page, "Models")
    _visit(page, "Embeddings")
    page.get_by_text("Current file: three.csv").wait_for()
    page.get_by_role("button", name="Embed 3 texts").click()
    page.get_by_text("3 of 3 texts embedded").wait_for(timeout=60_000)
    screenshot(page, "embeddings-upload-kept")
    page.get_by_role("button", name="Clear file").click()
    wait_until_idle(page)
    assert page.get_by_text("Current file: three.csv").count() == 0
    # Nothing to count any more: the button no longer names a number of texts.
    page.get_by_role("button", name="Embed", exact=True).wait_for()


def test_uploaded_images_are_still_there_after_the_chat_page(page: Any, app_url: str) -> None:
    page.goto(f"{app_url}/images")
    wait_for_app(page)
    page.locator('input[type="file"]').set_input_files(
        [
            {"name": "red.png", "mimeType": "image/png", "buffer": _png((220, 30, 30))},
            {"name": "blue.png", "mimeType": "image/png", "buffer": _png((30, 30, 220))},
        ]
    )
    wait_until_idle(page)
    _visit(page, "Chat")
    _visit(page, "Images")
    page.get_by_text("2 image(s) uploaded before are included: red.png, blue.png.").wait_for()
    page.get_by_role("button", name="Embed", exact=True).click()
    wait_until_idle(page)
    page.get_by_text("Embedded 2 image(s) with image-descriptor").wait_for()
    screenshot(page, "images-upload-kept")
    page.get_by_role("button", name="Remove uploaded images").click()
    wait_until_idle(page)
    assert page.get_by_text("uploaded before are included").count() == 0
    assert page.get_by_role("button", name="Embed", exact=True).is_disabled()
