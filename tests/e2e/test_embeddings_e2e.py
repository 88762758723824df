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
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)
from tests.services.test_embeddings_server import run_toy_server

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
    """The app with the embedded deployments plus the toy server, and its cache in a temporary data directory."""
    data_dir: Path = tmp_path_factory.mktemp("embeddings-data")
    with run_toy_server(dims=384, delay_s=0.02) as toy:
        config = local_deployments_toml(local_endpoint_url) + toml_deployment(
            "toy-bow", f"{toy.url}/toy-bow", max_retries=0
        )
        with run_app_server(config, {"PLAYGROUND_DATA_DIR": str(data_dir)}) as server:
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


def test_ten_thousand_texts_go_end_to_end_into_a_webgl_scatter(page: Any, embeddings_app: AppServer) -> None:
    words = ["river", "market", "engine", "garden", "planet", "violin", "harbour", "recipe", "signal", "forest"]
    texts = [f"note {i} {words[i % 10]} {words[(i // 10) % 10]} {words[(i // 100) % 10]}" for i in range(10_000)]
    page.goto(f"{embeddings_app.url}/embeddings")
    wait_for_app(page)
    page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="toy-bow").click()
    wait_until_idle(page)
    # Ten thousand lines go in as a CSV upload: the text box takes up to 1,000 lines (a longer paste moves into a file,
    # tests/e2e/test_embeddings_large_paste.py), and Playwright's fill types a text this long far slower than a paste.
    page.get_by_text("Upload a file", exact=True).click()
    wait_until_idle(page)
    csv = "id,text\n" + "\n".join(f"{i},{text}" for i, text in enumerate(texts))
    page.locator('input[type="file"]').set_input_files(
        {"name": "ten-thousand.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    wait_until_idle(page)
    page.get_by_role("button", name="Embed 10,000 texts").click()
    page.get_by_text("10,000 of 10,000 texts embedded").wait_for(timeout=120_000)
    scatter = page.locator(".js-plotly-plot").first
    scatter.wait_for(timeout=60_000)
    wait_until_idle(page, timeout_s=120)
    assert scatter.evaluate(POINTS_JS) == 10_000
    assert set(scatter.evaluate("el => el._fullData.map(t => t.type)")) == {"scattergl"}
    # The page still answers: switching the colouring redraws the same points.
    page.get_by_text("none", exact=True).click()
    wait_until_idle(page, timeout_s=60)
    assert page.locator(".js-plotly-plot").first.evaluate(POINTS_JS) == 10_000
    page.set_viewport_size({"width": 1400, "height": 1800})
    screenshot(page, "embeddings-10k")
    # The time it takes is measured in bench/embeddings_page.py, not asserted here.


def test_pasted_texts_and_options_survive_a_visit_to_another_page(page: Any, embeddings_app: AppServer) -> None:
    page.goto(f"{embeddings_app.url}/embeddings")
    wait_for_app(page)
    page.get_by_text("Paste texts", exact=True).click()
    wait_until_idle(page)
    box = page.get_by_label("One text per line")
    box.fill("first line\nsecond line")
    box.press("Control+Enter")
    wait_until_idle(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Models").click()
    wait_until_idle(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Embeddings").click()
    wait_until_idle(page)
    # The source choice and the typed texts are still there, so the Embed button counts them.
    assert page.get_by_label("One text per line").input_value() == "first line\nsecond line"
    page.get_by_role("button", name="Embed 2 texts").wait_for()
