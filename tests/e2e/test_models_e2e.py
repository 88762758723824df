"""The models page in Chromium: every deployment's /info, then Probe filling the capability map."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.app_server import screenshot, wait_for_app, wait_until_idle

pytestmark = pytest.mark.e2e

MODELS = {
    "smollm2-135m-instruct": "SmolLM2-135M-Instruct",
    "all-minilm-l6-v2": "all-MiniLM-L6-v2",
    "paraphrase-minilm-l3-v2": "paraphrase-MiniLM-L3-v2",
    "image-descriptor": "classical-colour-texture-descriptor",
}


def _cells(page: Any, index: int) -> list[str]:
    cells = page.locator('[data-testid="stDataFrame"]').nth(index).locator('[role="gridcell"]')
    # The grid draws its accessible cells a moment after the frame appears.
    cells.first.wait_for(state="attached")
    return cells.all_text_contents()


def test_models_page_lists_each_deployments_info_and_probe_fills_the_map(page: Any, app_url: str) -> None:
    page.goto(f"{app_url}/models")
    wait_for_app(page)
    overview = _cells(page, 0)
    for deployment, model in MODELS.items():
        assert deployment in overview and model in overview
    assert {"chat-completion", "embeddings", "image_embeddings"} <= set(overview)
    assert page.get_by_text("Not probed yet: press Probe").is_visible()

    page.get_by_role("button", name="Probe").click()
    wait_until_idle(page)
    page.get_by_text("smollm2-135m-instruct: details (probed at").wait_for()
    rows = _cells(page, 1)
    width = len(rows) // len(MODELS)
    table = {row[0]: row[1:] for row in (rows[i * width : (i + 1) * width] for i in range(len(MODELS)))}
    assert set(table) == set(MODELS)
    assert table["smollm2-135m-instruct"][0] == "supported"  # chat
    assert table["image-descriptor"][0] == "not supported"
    assert "unknown" not in table["all-minilm-l6-v2"]
    screenshot(page, "models-probed")
