"""Image generation in Chromium: two deployments draw one prompt side by side, the gallery shows both, a PNG
downloads."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fixtures.app_server import AppServer, run_app_server, screenshot, toml_deployment, wait_for_app
from tests.fixtures.app_server import wait_until_idle as _wait_until_idle
from tests.fixtures.image_server import ImageEndpoint, ImageServer

pytestmark = pytest.mark.e2e
KEY = "e2e-image-key-0123456789"


def wait_until_idle(page: Any) -> None:
    page.wait_for_timeout(300)  # let a click start the run before checking the script state
    _wait_until_idle(page)


@pytest.fixture(scope="module")
def image_app(image_server: ImageServer) -> Iterator[tuple[AppServer, dict[str, ImageEndpoint]]]:
    endpoints = {
        "dall-e-3": image_server.endpoint("azure-openai", "dall-e-3", key=KEY),
        "gpt-image-1": image_server.endpoint("azure-openai", "gpt-image-1", key=KEY),
    }
    toml = "".join(
        toml_deployment(name, endpoint.url, api="azure-openai", key=KEY) for name, endpoint in endpoints.items()
    )
    with run_app_server(toml) as server:
        yield server, endpoints


def test_generate_see_the_gallery_and_download_a_png(page: Any, image_app: Any) -> None:
    server, endpoints = image_app
    page.goto(f"{server.url}/images")
    wait_for_app(page)
    page.get_by_role("tab", name="Generate").click()
    wait_until_idle(page)
    prompt = page.locator(".st-key-p_imggen_prompt textarea")
    prompt.fill("a lighthouse on a cliff at dusk")
    prompt.press("Control+Enter")
    wait_until_idle(page)
    page.locator(".st-key-imggen_generate button").click()
    wait_until_idle(page)
    gallery = page.locator('[class*="st-key-imggen_run_"]').first
    gallery.wait_for()
    images = gallery.locator('[data-testid="stImage"] img')
    images.nth(1).wait_for()
    assert images.count() == 2
    text = gallery.inner_text()
    assert "a lighthouse on a cliff at dusk" in text
    assert "Revised prompt: A detailed picture of a lighthouse on a cliff at dusk." in text
    assert "1024x1024" in text and "272 output tokens" in text
    # Both deployments were asked, each once, at the same time (one trace, two threads).
    assert [len(endpoint.generations) for endpoint in endpoints.values()] == [1, 1]
    assert KEY not in page.content()
    page.set_viewport_size({"width": 1400, "height": 1600})
    screenshot(page, "image-generation-gallery")
    with page.expect_download() as download:
        gallery.get_by_role("button", name="Download PNG").first.click()
    saved = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename.endswith(".png")
    with Image.open(io.BytesIO(saved)) as image:
        assert (image.format, image.size) == ("PNG", (1024, 1024))
    # Generate again keeps the first run in the gallery.
    page.locator(".st-key-imggen_generate button").click()
    wait_until_idle(page)
    page.locator('[class*="st-key-imggen_run_"]').nth(1).wait_for()
    assert page.locator('[class*="st-key-imggen_run_"]').count() == 2
