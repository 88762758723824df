"""The Evaluations page in headless Chromium: a CSV uploaded, two deployments on the embedded chat model picked, a
"contains" evaluator added, the run started, followed to its end, its results shown for every row and deployment,
and its HTML report downloaded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from services.config import LOCAL_API_VERSION
from tests.fixtures.app_server import (
    AppServer,
    fill_and_submit,
    pick_option,
    run_app_server,
    screenshot,
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
NAMES = ("small-a", "small-b")
CSV = "question,expected\nCapital of France?,Paris\nCapital of Italy?,Rome\nCapital of Spain?,Madrid\n"
RUN_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def two_deployment_app(local_endpoint_url: str) -> Iterator[AppServer]:
    """The app with two deployment names on the embedded endpoint's one chat model (the session app has one)."""
    target = f"{local_endpoint_url}/{CHAT}"
    config = "".join(toml_deployment(name, target, api_version=LOCAL_API_VERSION) for name in NAMES)
    with run_app_server(config) as server:
        yield server


def test_upload_pick_two_deployments_add_contains_run_and_see_every_cell(
    page: Any, two_deployment_app: AppServer, tmp_path: Path
) -> None:
    data = tmp_path / "capitals.csv"
    data.write_text(CSV)
    page.goto(f"{two_deployment_app.url}/evals")
    wait_for_app(page)
    page.get_by_role("heading", name="Evaluations").wait_for()

    fill_and_submit(page, ".st-key-evf_template_user textarea", "Answer in one word: {{question}}")
    page.locator(".st-key-evals_upload input[type=file]").set_input_files(str(data))
    wait_until_idle(page)
    page.get_by_text("3 rows · columns: question, expected").wait_for()
    for name in NAMES:
        pick_option(page, "evf_deployments", name)
        page.keyboard.press("Escape")
        fill_and_submit(page, f".st-key-evf_override_{name} input", '{"max_tokens": 6, "temperature": 0}')
    fill_and_submit(page, ".st-key-evf_new_name input", "names the capital")
    fill_and_submit(page, ".st-key-evf_new_contains_text input", "{{expected}}")
    page.locator(".st-key-evals_add_evaluator button").click()
    wait_until_idle(page)
    page.locator("[class*='st-key-evals_evaluator_0']").get_by_text("names the capital").wait_for()
    assert page.locator("[data-testid=stAlertContentError]").count() == 0

    page.locator(".st-key-evals_run button").click()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while "· finished ·" not in page.locator("[data-testid=stMainBlockContainer]").inner_text():
        assert time.monotonic() < deadline, "the run did not finish"
        page.wait_for_timeout(500)
    wait_until_idle(page)
    assert "run=" in page.url  # a reload comes back to this run

    page.get_by_role("tab", name="Rows × deployments").click()
    wait_until_idle(page)
    # The matrix is a data grid; its accessible table holds the header and every visible cell as text.
    grid = page.locator("[data-testid=stDataFrame]").filter(has_text="small-b · checks").locator("table[role=grid]")
    # The grid draws its rows after the tab shows: wait for them rather than for a fixed time.
    expect(grid.locator("tbody tr")).to_have_count(3)
    header = [cell.inner_text().strip() for cell in grid.locator("thead th").all()]
    rows = grid.locator("tbody tr").all()
    assert len(rows) == 3, header
    for row in rows:
        cells = dict(zip(header, [cell.inner_text().strip() for cell in row.locator("td").all()], strict=False))
        for name in NAMES:
            assert cells.get(name), f"no cell for {name} in {cells}"
    screenshot(page, "evals-finished-run")

    # The HTML report, downloaded as a user would, holds every row's question and both deployments, and loads nothing.
    page.get_by_role("tab", name="Export").click()
    wait_until_idle(page)
    with page.expect_download() as download:
        page.locator(".st-key-evres_export_html button").click()
    report = Path(download.value.path()).read_text(encoding="utf-8")
    parsed = _Report()
    parsed.feed(report)
    assert not parsed.scripts and not parsed.external, (parsed.scripts, parsed.external)
    for text in ("Capital of France?", "Capital of Italy?", "Capital of Spain?", *NAMES, "names the capital"):
        assert text in parsed.text, f"{text!r} not in the report"


class _Report(HTMLParser):
    """The report's visible text, its <script> tags and anything it would load from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.external: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.external += [value for name, value in attrs if name in ("src", "href") and value and "//" in value]

    def handle_data(self, data: str) -> None:
        self.text += data
