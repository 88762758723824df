"""Model against model in headless Chromium on the embedded endpoint's two real text models: a few hundred uploaded
texts embedded by all-MiniLM-L6-v2 and paraphrase-MiniLM-L3-v2 (the default comparison), then the Compare tab's
neighbour overlap, rank correlation, the two projections side by side and the texts whose neighbours differ most."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.fixtures.app_server import screenshot, wait_for_app, wait_until_idle

pytestmark = pytest.mark.e2e

MAIN, OTHER = "all-minilm-l6-v2", "paraphrase-minilm-l3-v2"
TOPICS = {
    "weather": ["rain", "a storm", "snow", "strong wind", "a heatwave", "fog"],
    "finance": ["the stock market", "interest rates", "the bond yield", "a bank loan", "inflation", "the currency"],
    "sport": ["the striker", "the goalkeeper", "the tennis final", "the marathon", "the cup match", "the relay team"],
    "cooking": ["the soup", "fresh bread", "the pasta sauce", "a roast chicken", "the curry", "the apple pie"],
    "travel": ["the night train", "a cheap flight", "the ferry", "the hotel room", "the museum tour", "a road trip"],
}
FRAMES = [
    "Everyone was talking about {} this morning.",
    "I read a long article about {} yesterday.",
    "{} changed our plans for the weekend.",
    "Nobody expected {} to matter so much.",
    "The news tonight opened with {}.",
    "My neighbour keeps complaining about {}.",
    "We spent the whole lunch discussing {}.",
    "A short note on {} and why it matters.",
    "Is {} really as important as they say?",
    "There is a new report on {}.",
]
PICKED_JS = "el => el.querySelector('input')?.value || el.textContent"
POINTS_JS = "el => el._fullData.reduce((n, t) => n + t._length, 0)"


def _texts() -> list[tuple[str, str]]:
    """(topic, text) pairs: 5 topics x 6 subjects x 10 frames = 300 texts of 6 to 12 words."""
    return [
        (topic, frame.format(subject)) for topic, subjects in TOPICS.items() for subject in subjects for frame in FRAMES
    ]


def _metric(page: Any, label: str) -> float:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    value = metric.get_by_test_id("stMetricValue").inner_text().strip()
    return float(value)


def test_two_real_models_are_compared_on_three_hundred_uploaded_texts(page: Any, app_url: str) -> None:
    texts = _texts()
    page.goto(f"{app_url}/embeddings")
    wait_for_app(page)
    pickers = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]')
    chosen = [pickers.nth(i).evaluate(PICKED_JS) for i in (0, 1)]
    assert MAIN in chosen[0] and OTHER in chosen[1], chosen  # the second one is the default comparison
    page.get_by_text("Upload a file", exact=True).click()
    wait_until_idle(page)
    csv = "topic,text\n" + "\n".join(f'{topic},"{text}"' for topic, text in texts)
    page.locator('input[type="file"]').set_input_files(
        {"name": "three-hundred.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    wait_until_idle(page)
    page.get_by_role("button", name=f"Embed {len(texts)} texts").click()
    page.get_by_text(re.compile(rf"^{len(texts)} of {len(texts)} texts embedded with {MAIN} and {OTHER}")).wait_for(
        timeout=120_000
    )
    wait_until_idle(page)

    page.get_by_role("tab", name="Compare").click()
    wait_until_idle(page, timeout_s=90)
    overlap = _metric(page, "Neighbour overlap@10")
    rho = _metric(page, "Spearman of similarities")
    # Two different real models: they agree on much (same topics) but not on everything.
    assert 0.2 < overlap < 0.99, overlap
    assert 0.3 < rho < 0.999, rho
    for key, name in (("a", MAIN), ("b", OTHER)):
        plot = page.locator(f".st-key-emb_cmp_scatter_{key} .js-plotly-plot")
        plot.wait_for()
        assert plot.evaluate(POINTS_JS) == len(texts)
        assert re.sub(r"<[^>]+>", "", plot.evaluate("el => el.layout.title.text")) == name
    page.get_by_text("Texts whose neighbours differ most").wait_for()
    page.get_by_test_id("stDataFrame").last.wait_for()  # only the open tab is drawn: this is its table
    page.set_viewport_size({"width": 1400, "height": 1600})
    screenshot(page, "embeddings-two-models")
