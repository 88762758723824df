"""The Leaderboard's CSV files: the standings (one row per deployment) and the votes behind them (one row per vote).

Every text cell goes through services.csv_safe, so a prompt, a session tag or a deployment name that starts like a
formula (= + - @) opens in a spreadsheet as text, never as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from services.arena_ratings import Leaderboard
from services.csv_safe import spreadsheet_safe
from services.store.arena import ArenaVote

STANDING_COLUMNS = (
    "rank", "deployment", "rating", "lower_95", "upper_95", "online_elo", "wins", "losses", "ties", "all_bad",
    "battles", "votes", "group",
)  # fmt: skip
VOTE_COLUMNS = ("voted_utc", "session_tag", "owner", "prompt", "deployments", "verdict", "winner", "trace_ids")


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(value) for value in row] for row in rows)
    return out.getvalue()


def standings_csv(board: Leaderboard) -> str:
    """The standings as CSV, best first; ratings rounded to one decimal."""
    rows = (
        (
            s.rank, s.deployment, round(s.rating, 1), round(s.lower, 1), round(s.upper, 1), round(s.online, 1),
            s.wins, s.losses, s.ties, s.all_bad, s.battles, s.votes, s.group,
        )
        for s in board.standings
    )  # fmt: skip
    return _csv(STANDING_COLUMNS, rows)


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def votes_csv(votes: Iterable[ArenaVote]) -> str:
    """The votes as CSV, in the order given; panes and trace ids as JSON lists in pane order."""
    rows = (
        (
            _when(v.voted), v.session_tag, v.owner or "", v.prompt, json.dumps(list(v.deployments)), v.verdict,
            v.winner or "", json.dumps(list(v.trace_ids)),
        )
        for v in votes
    )  # fmt: skip
    return _csv(VOTE_COLUMNS, rows)
