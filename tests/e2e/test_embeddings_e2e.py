"""The embeddings page in Chromium against the embedded MiniLM: paste, embed, one point each, search, heatmap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import (
    AppServer,
    local_deployments_toml,
    run_app_server,
    screenshot,
    wait_for_app,
    wait_until_idle,
)

pytestmark = pytest.mark.e2e

TEXTS = [
    "The cat sat on the mat.",
    "A kitten sleeps on the rug.",
    "Dogs love to chase balls in the park.",
    "Stocks fell sharply after the earnings report.",
    "The central bank raised interest rates.",
    "Investors sold shares as markets dropped.",
    "Heavy rain is expected tomorrow.",
    "A storm will bring strong winds tonight.",
    "Snow is falling in the mountains.",
    "The striker scored in the final minute.",
]

# Plotly's _fullData holds the decoded traces (el.data keeps the typed arrays as sent: {dtype, bdata}).
POINTS_JS = """
el => el._fullData.filter(t => t.name !== 'search results').reduce((n, t) => n + t._length, 0)
"""


@pytest.fixture(scope="module")
def embeddings_app(local_endpoint_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with the embedded deployments and its embedding cache in a temporary data directory."""
    data_dir: Path = tmp_path_factory.mktemp("embeddings-data")
    with run_app_server(local_deployments_toml(local_endpoint_url), {"PLAYGROUND_DATA_DIR": str(data_dir)}) as server:
        yield server


def test_pasted_texts_are_plotted_searched_and_shown_as_a_heatmap(page: Any, embeddings_app: AppServer) -> None:
    page.goto(f"{embeddings_app.url}/embeddings")
    wait_for_app(page)
    picker = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first
    assert "all-minilm-l6-v2" in picker.evaluate("el => el.querySelector('input')?.value || el.textContent")
    page.get_by_text("Paste texts", exact=True).click()
    wait_until_idle(page)
    box = page.get_by_label("One text per line")
    box.fill("\n".join(TEXTS))
    box.press("Control+Enter")
    wait_until_idle(page)
    page.get_by_role("button", name=f"Embed {len(TEXTS)} texts").click()
    page.get_by_text(f"{len(TEXTS)} of {len(TEXTS)} texts embedded").wait_for(timeout=60_000)
    wait_until_idle(page)

    scatter = page.locator(".js-plotly-plot").first
    scatter.wait_for()
    assert scatter.evaluate(POINTS_JS) == len(TEXTS)

    search = page.get_by_label("Search")
    search.fill("a cat resting on a carpet")
    search.press("Enter")
    wait_until_idle(page)
    table = page.get_by_test_id("stDataFrame").first
    table.wait_for()
    highlighted = scatter.evaluate("el => el._fullData.filter(t => t.name === 'search results').map(t => t._length)")
    assert highlighted == [5]
    page.set_viewport_size({"width": 1400, "height": 1800})
    screenshot(page, "embeddings-map-search")

    page.get_by_role("tab", name="Heatmap").click()
    wait_until_idle(page)
    heatmap = page.locator(".js-plotly-plot").filter(has=page.locator(".heatmaplayer, g.hm"))
    heatmap.first.wait_for()
    kinds = page.locator(".js-plotly-plot").evaluate_all("els => els.map(el => el.data[0].type)")
    assert "heatmap" in kinds
    assert heatmap.first.evaluate("el => el._fullData[0].z.length") == len(TEXTS)
    screenshot(page, "embeddings-heatmap")
