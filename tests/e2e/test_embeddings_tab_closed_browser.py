"""An embedding job stops on the server when its browser tab is closed (Chromium), and what arrived stays cached."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.components.embedding_job import SESSION_GRACE_S
from services.store.embeddings import CACHE_FILE, EmbeddingCache
from tests.fixtures.app_server import AppServer, run_app_server, toml_deployment, wait_for_app, wait_until_idle
from tests.services.test_embeddings_server import ToyServer, run_toy_server

pytestmark = pytest.mark.e2e

TEXTS = 200
DELAY_S = 0.25  # per one-text request: the whole job would take TEXTS x DELAY_S = 50 s


@pytest.fixture(scope="module")
def toy() -> Iterator[ToyServer]:
    with run_toy_server(dims=32, delay_s=DELAY_S) as server:
        yield server


@pytest.fixture(scope="module")
def app_and_data(toy: ToyServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Path]]:
    data_dir = tmp_path_factory.mktemp("tab-closed-data")
    config = toml_deployment("toy-bow", f"{toy.url}/toy-bow", max_retries=0)
    with run_app_server(config, {"PLAYGROUND_DATA_DIR": str(data_dir)}) as server:
        yield server, data_dir


def _requests_settle(toy: ToyServer, timeout_s: float, quiet_s: float = 2.0) -> int:
    """Wait until the server has had no new request for `quiet_s`; the count then."""
    deadline = time.monotonic() + timeout_s
    last, since = toy.state.requests, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if toy.state.requests != last:
            last, since = toy.state.requests, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return last
    raise AssertionError(f"requests kept coming for {timeout_s:.0f} s after the tab closed ({last} so far)")


def test_closing_the_tab_stops_the_job_and_keeps_the_cached_vectors(
    browser: Any, toy: ToyServer, app_and_data: tuple[AppServer, Path]
) -> None:
    app, data_dir = app_and_data
    # Its own context (not the `page` fixture, which screenshots its page at the end): this test closes it.
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{app.url}/embeddings")
    wait_for_app(page)
    page.get_by_text("Upload a file", exact=True).click()
    wait_until_idle(page)
    lines = "\n".join(f"sentence {i} about subject {i % 7}" for i in range(TEXTS))
    page.locator('input[type="file"]').set_input_files(
        {"name": "many.txt", "mimeType": "text/plain", "buffer": lines.encode()}
    )
    wait_until_idle(page)
    page.get_by_text("Options", exact=True).click()
    for label in ("Batch size", "Parallel requests"):
        field = page.get_by_label(label)
        field.fill("1")
        field.press("Enter")
        wait_until_idle(page)
    page.get_by_role("button", name=f"Embed {TEXTS} texts").click()
    deadline = time.monotonic() + 60
    while toy.state.requests < 3:
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.1)
    context.close()  # the tab (and its websocket) goes away

    sent = _requests_settle(toy, timeout_s=SESSION_GRACE_S + 20)
    assert sent < TEXTS * 0.6, f"{sent} of {TEXTS} requests: the job went on after the tab closed"
    time.sleep(2)
    assert toy.state.requests == sent
    # Every answered request's vector is in the cache, for the next visit.
    cache = EmbeddingCache(data_dir / CACHE_FILE)
    assert sent - 1 <= cache.count() <= sent
    cache.close()
