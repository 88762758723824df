"""The arena in headless Chromium: a blind vote on the compare page, then the Leaderboard page counting it (its
figures, its session-tag filter and its CSV export, downloaded as a user would)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app_server import AppServer, run_app_server, screenshot, toml_deployment, wait_for_app
from tests.fixtures.app_server import wait_until_idle as _wait_until_idle
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks

pytestmark = pytest.mark.e2e
NAMES = ("alpha", "gamma")
TAG = "e2e review"


def wait_until_idle(page: Any) -> None:
    page.wait_for_timeout(300)  # let a click or a sent prompt start its run before checking the script state
    _wait_until_idle(page)


@pytest.fixture(scope="module")
def arena_app(fault_server: FaultServer) -> Iterator[AppServer]:
    # The sidebar's /info status check is each scenario's first request: answer it, then stream every chat.
    info = Reply(json={"model_name": "scripted", "model_type": "chat-completion", "model_provider_name": "test"})
    toml = ""
    for name in NAMES:
        scenario = fault_server.scenario(info, Reply(sse=chat_chunks([f"{name} ", "says hi"]), chunk_delay=0.02))
        toml += toml_deployment(name, scenario.endpoint, max_retries=0)
    with run_app_server(toml) as server:
        yield server


def test_a_blind_vote_is_counted_on_the_leaderboard(page: Any, arena_app: AppServer) -> None:
    page.goto(f"{arena_app.url}/compare?panes={','.join(NAMES)}")
    wait_for_app(page)
    page.get_by_text("Blind mode").click()
    wait_until_idle(page)
    tag = page.get_by_role("textbox", name="Session tag")
    tag.fill(TAG)
    tag.press("Enter")
    wait_until_idle(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Which greeting is friendlier?")
    box.press("Enter")
    wait_until_idle(page)
    vote = page.locator(".st-key-compare_vote")
    vote.get_by_text("Model A", exact=True).click()
    wait_until_idle(page)
    assert "1 vote(s) recorded" in vote.inner_text()
    vote.get_by_role("button", name="Reveal names").click()
    wait_until_idle(page)
    tally = page.locator(".st-key-compare_vote").inner_text()
    found = re.search(r"(alpha|gamma): 1", tally)
    assert found, tally
    winner = found.group(1)
    loser = next(name for name in NAMES if name != winner)

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Leaderboard").click()
    wait_until_idle(page)
    assert page.url.endswith("/leaderboard")
    main = page.get_by_test_id("stMain")
    main.get_by_text("More votes are needed").wait_for()
    votes = main.get_by_test_id("stMetric").filter(has_text="Votes")
    assert votes.get_by_test_id("stMetricValue").inner_text().strip() == "1"
    heatmap = main.locator(".st-key-leaderboard_win_rate")
    heatmap.locator("svg").first.wait_for()
    assert winner in heatmap.inner_text() and loser in heatmap.inner_text()
    screenshot(page, "leaderboard-one-vote")

    main.get_by_test_id("stSelectbox").filter(has_text="Session tag").get_by_role("combobox").click()
    page.get_by_role("option", name=TAG, exact=True).click()
    wait_until_idle(page)
    assert votes.get_by_test_id("stMetricValue").inner_text().strip() == "1"

    with page.expect_download() as download:
        main.locator(".st-key-leaderboard_export button").click()
    rows = list(csv.DictReader(Path(download.value.path()).read_text(encoding="utf-8").splitlines()))
    by_name = {row["deployment"]: row for row in rows}
    assert set(by_name) == set(NAMES)
    assert (by_name[winner]["wins"], by_name[winner]["losses"], by_name[winner]["votes"]) == ("1", "0", "1")
    assert (by_name[loser]["wins"], by_name[loser]["losses"]) == ("0", "1")
    assert float(by_name[winner]["rating"]) > float(by_name[loser]["rating"])
    assert rows[0]["deployment"] == winner
