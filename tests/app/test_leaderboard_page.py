"""The Leaderboard page in AppTest, over votes written to the arena store: 0, 1 and 10,000 votes, the filters, the
owner rule, the charts and the notes a small or split sample needs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from services.store.arena import ALL_BAD, TIE, WIN, ArenaStore
from services.store.database import open_database
from tests.app.conftest import all_text
from tests.app.test_sign_in import AUTH
from tests.fixtures.app_server import toml_deployment

DEPLOYMENT = toml_deployment("first", "http://127.0.0.1:9/first")  # never contacted: nothing is sent
ALICE = {"is_logged_in": True, "sub": "alice-sub", "email": "alice@example.com", "name": "Alice"}
BOB = {"is_logged_in": True, "sub": "bob-sub", "email": "bob@example.com", "name": "Bob"}
# The 10,000-vote page must draw in well under this on a loaded two-core machine (it takes about a second alone).
BIG_PAGE_BUDGET_S = 30.0

MakeApp = Callable[..., AppTest]


def open_leaderboard(at: AppTest) -> AppTest:
    """Run the app on its Leaderboard page (AppTest.switch_page finds only file pages)."""
    [page_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == "leaderboard"]
    at._page_hash = page_hash
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def make_app(app_with_config: MakeApp, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """make(user=None, **env): the app on its Leaderboard page (sign-in on when a user is given)."""
    monkeypatch.delenv("PLAYGROUND_ADMINS", raising=False)

    def make(user: dict[str, Any] | None = None, **env: str) -> AppTest:
        secrets = {"auth": AUTH} if user is not None else None
        return open_leaderboard(app_with_config(DEPLOYMENT, secrets=secrets, user=user, **env))

    return make


def cast(
    store: ArenaStore,
    number: int,
    deployments: tuple[str, ...],
    verdict: str = WIN,
    winner_index: int | None = 0,
    **fields: Any,
) -> None:
    store.record(
        f"{number:032x}",
        prompt=f"prompt {number}",
        deployments=list(deployments),
        trace_ids=[None] * len(deployments),
        verdict=verdict,
        winner_index=winner_index if verdict == WIN else None,
        **fields,
    )


def standings(at: AppTest) -> pd.DataFrame:
    [table] = [frame for frame in at.dataframe if "Rating" in frame.value.columns]
    return table.value


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_with_no_vote_the_page_says_how_to_vote(make_app: Callable[..., AppTest]) -> None:
    at = make_app()
    assert "No votes yet" in all_text(at) and "Blind mode" in all_text(at)
    assert not at.dataframe and not figures(at)


def test_one_vote_shows_both_deployments_wide_intervals_and_that_more_votes_are_needed(make_app) -> None:
    cast(ArenaStore(), 1, ("phi", "mistral"), winner_index=1)
    at = make_app()
    table = standings(at)
    assert list(table["Deployment"]) == ["mistral", "phi"]
    assert list(table["Rank"]) == [1, 1]  # one vote settles nothing
    assert (list(table["Wins"]), list(table["Losses"]), list(table["Votes"])) == ([1, 0], [0, 1], [1, 1])
    plus, minus = (int(part.strip(" +-")) for part in table["95% CI"][0].split("/"))
    assert plus > 300 and minus > 300
    assert "More votes are needed" in all_text(at)
    assert metrics(at)["Votes"] == "1"
    heatmap = next(f for f in figures(at) if f["data"][0]["type"] == "heatmap")
    assert heatmap["data"][0]["x"] == ["mistral", "phi"] and heatmap["data"][0]["z"][0][1] == 1.0
    assert "Elo-style ratings" in all_text(at)
    online = next(frame.value for frame in at.dataframe if "Elo" in frame.value.columns)
    assert list(online["Elo"]) == [1002, 998]


def test_ten_thousand_votes_render_in_reasonable_time_and_recover_the_order(make_app, monkeypatch) -> None:
    import pages.leaderboard as page

    fits: list[int] = []
    fit = page.leaderboard
    monkeypatch.setattr(page, "leaderboard", lambda votes, **options: fits.append(len(votes)) or fit(votes, **options))
    strengths = {"gpt-4o": 1200.0, "phi": 1100.0, "mistral": 1000.0, "smollm": 850.0}
    names = list(strengths)
    rng = np.random.default_rng(11)
    store = ArenaStore(open_database("arena", keep_connection=True))  # one connection: 10,000 writes in seconds
    for number in range(10_000):
        first, second = rng.choice(len(names), 2, replace=False)
        a, b = names[first], names[second]
        p_a = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
        if rng.random() < 0.05:
            cast(store, number, (a, b), TIE if rng.random() < 0.5 else ALL_BAD, when=1_700_000_000.0 + number)
        else:
            cast(store, number, (a, b), winner_index=0 if rng.random() < p_a else 1, when=1_700_000_000.0 + number)
    store.db.close()
    started = time.monotonic()
    at = make_app()
    first_draw = time.monotonic() - started
    assert first_draw < BIG_PAGE_BUDGET_S, f"the 10,000-vote page took {first_draw:.1f} s"
    table = standings(at)
    assert list(table["Deployment"]) == names and list(table["Rank"]) == [1, 2, 3, 4]
    assert metrics(at)["Votes"] == "10,000" and sum(table["Votes"]) == 20_000
    assert "More votes are needed" not in all_text(at)
    at.run()
    assert not at.exception and list(standings(at)["Deployment"]) == names
    assert fits == [10_000], "the same votes were fitted again instead of coming from the cache"
    cast(ArenaStore(), 10_000, ("smollm", "gpt-4o"), when=1_800_000_000.0)
    at.run()
    assert fits == [10_000, 10_001] and metrics(at)["Votes"] == "10,001"


def test_the_time_range_and_session_tag_filters_narrow_the_votes(make_app) -> None:
    store = ArenaStore()
    now = time.time()
    cast(store, 1, ("phi", "mistral"), when=now - 10 * 86400, session_tag="marketing review")
    cast(store, 2, ("phi", "mistral"), winner_index=1, when=now - 60, session_tag="marketing review")
    cast(store, 3, ("phi", "smollm"), when=now - 30)
    at = make_app()
    assert metrics(at)["Votes"] == "3"
    at.selectbox(key="leaderboard.range").set_value("Last 24 hours").run()
    assert metrics(at)["Votes"] == "2" and set(standings(at)["Deployment"]) == {"phi", "mistral", "smollm"}
    tags = at.selectbox(key="leaderboard.tag")
    assert tags.options == ["All sessions", "(no tag)", "marketing review"]
    tags.set_value("marketing review").run()
    assert metrics(at)["Votes"] == "1" and list(standings(at)["Deployment"]) == ["mistral", "phi"]
    at.selectbox(key="leaderboard.range").set_value("Dates (UTC)").run()
    assert metrics(at)["Votes"] == "1"  # the last 7 days by default: the 10-day-old vote stays out
    at.selectbox(key="leaderboard.range").set_value("All time").run()
    assert metrics(at)["Votes"] == "2" and list(standings(at)["Wins"]) == [1, 1]


def test_a_filter_with_no_vote_says_so(make_app) -> None:
    cast(ArenaStore(), 1, ("phi", "mistral"), when=time.time() - 40 * 86400)
    at = make_app()
    at.selectbox(key="leaderboard.range").set_value("Last 30 days").run()
    assert "No vote matches these filters" in all_text(at) and not at.dataframe


def test_each_user_sees_the_leaderboard_of_their_own_votes_and_an_admin_all(make_app) -> None:
    store = ArenaStore()
    cast(store, 1, ("phi", "mistral"), owner="alice@example.com")
    cast(store, 2, ("gpt-4o", "smollm"), owner="bob@example.com")
    alice = make_app(ALICE)
    assert set(standings(alice)["Deployment"]) == {"phi", "mistral"}
    assert "These are your own votes" in all_text(alice)
    bob = make_app(BOB)
    assert set(standings(bob)["Deployment"]) == {"gpt-4o", "smollm"}
    admin = make_app(BOB, PLAYGROUND_ADMINS="bob@example.com")
    assert set(standings(admin)["Deployment"]) == {"phi", "mistral", "gpt-4o", "smollm"}
    assert "Group" in standings(admin).columns and "never compared" in all_text(admin)
    everyone = make_app()  # sign-in off: every vote
    assert len(standings(everyone)) == 4


def test_a_page_visit_elsewhere_keeps_the_filters(make_app) -> None:
    cast(ArenaStore(), 1, ("phi", "mistral"), session_tag="board")
    at = make_app()
    at.selectbox(key="leaderboard.tag").set_value("board").run()
    [models_hash] = [key for key, info in at._registered_pages.items() if info.get("url_pathname") == "models"]
    at._page_hash = models_hash
    at.run()
    open_leaderboard(at)
    assert at.selectbox(key="leaderboard.tag").value == "board"
