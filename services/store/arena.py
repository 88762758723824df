"""The store of arena votes: every blind vote cast on the compare page, for the Leaderboard page.

It lives in the area "arena" (SQLite: `arena.sqlite` under `PLAYGROUND_DATA_DIR`; PostgreSQL: the database of
`PLAYGROUND_DATABASE_URL`). A vote is one compare turn judged: the prompt, the deployments of every pane in the turn
(in pane order) with each answer's trace id, the verdict (one pane better, a tie, or all bad), the session tag the
voter gave ("marketing review") and when. Its key is the turn's own id, so changing the vote on a turn replaces the
stored vote instead of adding one. A vote belongs to the owner who cast it (services.identity): a user reads their
own votes, an admin or the anonymous viewer (sign-in off) all of them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.identity import ANONYMOUS, Viewer
from services.store.database import Database, StoreError, open_database
from services.store.location import StoreConfigError

AREA = "arena"
STORE_FILE = "arena.sqlite"
WIN, TIE, ALL_BAD = "win", "tie", "all-bad"
VERDICTS = (WIN, TIE, ALL_BAD)
MAX_PANES = 4
# A prompt is kept for reading back, not for replaying a huge paste: the rest is cut.
MAX_PROMPT_CHARS = 20_000
MAX_TAG_CHARS = 80
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_COLUMNS = "vote_id, owner, session_tag, prompt, deployments, trace_ids, verdict, winner_index, created, voted"


class ArenaStoreError(Exception):
    """The store could not be read or written; the message names the file or database (never a password)."""


@dataclass(frozen=True)
class ArenaVote:
    """One stored vote: `deployments` of every pane in pane order, `trace_ids` beside them (None where a reply had
    no recorded call), `verdict` WIN (with `winner_index` into `deployments`), TIE or ALL_BAD; times in epoch
    seconds (`created` the first vote on the turn, `voted` the latest change)."""

    vote_id: str
    owner: str | None
    session_tag: str
    prompt: str
    deployments: tuple[str, ...]
    trace_ids: tuple[str | None, ...]
    verdict: str
    winner_index: int | None
    created: float
    voted: float

    @property
    def winner(self) -> str | None:
        """The deployment voted better, or None for a tie or all bad."""
        return self.deployments[self.winner_index] if self.winner_index is not None else None


@dataclass(frozen=True)
class VoteFilter:
    """Which votes to read: voted in [since, until) (epoch seconds, None = open), and with this session tag (None:
    every session; "": votes given without a tag)."""

    since: float | None = None
    until: float | None = None
    session_tag: str | None = None


def clean_tag(tag: str | None) -> str:
    """A session tag as stored: one line, spaces collapsed, at most MAX_TAG_CHARS characters ("" for none)."""
    return " ".join((tag or "").split())[:MAX_TAG_CHARS]


def _where(viewer: Viewer, filt: VoteFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if not viewer.sees_all:
        clauses.append("owner = ?")
        args.append(viewer.owner)
    if filt.since is not None:
        clauses.append("voted >= ?")
        args.append(float(filt.since))
    if filt.until is not None:
        clauses.append("voted < ?")
        args.append(float(filt.until))
    if filt.session_tag is not None:
        clauses.append("session_tag = ?")
        args.append(clean_tag(filt.session_tag))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _vote(row: Sequence[Any]) -> ArenaVote:
    return ArenaVote(
        vote_id=str(row[0]),
        owner=row[1],
        session_tag=str(row[2]),
        prompt=str(row[3]),
        deployments=tuple(json.loads(row[4])),
        trace_ids=tuple(json.loads(row[5])),
        verdict=str(row[6]),
        winner_index=None if row[7] is None else int(row[7]),
        created=float(row[8]),
        voted=float(row[9]),
    )


def _checked(
    vote_id: str, deployments: Sequence[str], trace_ids: Sequence[str | None], verdict: str, winner_index: int | None
) -> None:
    if not _ID_PATTERN.fullmatch(vote_id):
        raise ValueError(f"Invalid vote id {vote_id!r}.")
    if not 2 <= len(deployments) <= MAX_PANES or not all(name.strip() for name in deployments):
        raise ValueError(f"A vote compares 2 to {MAX_PANES} named deployments, not {list(deployments)!r}.")
    if len(trace_ids) != len(deployments):
        raise ValueError("A vote needs one trace id (or None) per deployment.")
    if verdict not in VERDICTS:
        raise ValueError(f"Unknown verdict {verdict!r}: one of {', '.join(VERDICTS)}.")
    if (verdict == WIN) != (winner_index is not None):
        raise ValueError("A win names the winning pane; a tie or all bad names none.")
    if winner_index is not None and not 0 <= winner_index < len(deployments):
        raise ValueError(f"The winning pane {winner_index} is not one of the {len(deployments)} panes.")


class ArenaStore:
    """record / withdraw / votes of arena votes; safe to share between threads and processes. `location` (or
    `database_url`) None follows PLAYGROUND_DATABASE_URL (SQLite in the data directory by default); a path is that
    SQLite file, a URL that database."""

    def __init__(
        self,
        location: str | Path | Database | None = None,
        *,
        database_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        location = database_url if database_url is not None else location
        self.clock = clock
        try:
            self.db = location if isinstance(location, Database) else open_database(AREA, location)
        except StoreConfigError as exc:
            raise ArenaStoreError(str(exc)) from None

    @property
    def where(self) -> str:
        """The file or database (without a password) the store reads and writes."""
        return self.db.where

    def _error(self, exc: StoreError, doing: str) -> ArenaStoreError:
        verb = "opened" if exc.opening else doing
        return ArenaStoreError(f"The vote store {exc.where} cannot be {verb}: {exc}")

    def _read(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        try:
            with self.db.transaction(write=False) as tx:
                return list(tx.execute(sql, args).fetchall())
        except StoreError as exc:
            raise self._error(exc, "read") from None

    def record(
        self,
        vote_id: str,
        *,
        prompt: str,
        deployments: Sequence[str],
        trace_ids: Sequence[str | None],
        verdict: str,
        winner_index: int | None = None,
        owner: str | None = None,
        session_tag: str = "",
        when: float | None = None,
    ) -> None:
        """Store the vote on a turn, or replace the one stored under `vote_id` (its first time is kept). Another
        owner's vote under the same id is left as it was. Raises ValueError for a vote that cannot be counted."""
        _checked(vote_id, deployments, trace_ids, verdict, winner_index)
        now = self.clock() if when is None else when
        winner = deployments[winner_index] if winner_index is not None else None
        values = (
            vote_id, owner, clean_tag(session_tag), prompt[:MAX_PROMPT_CHARS], json.dumps(list(deployments)),
            json.dumps(list(trace_ids)), verdict, winner, winner_index, now, now,
        )  # fmt: skip
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO arena_votes (vote_id, owner, session_tag, prompt, deployments, trace_ids, verdict,"
                    " winner, winner_index, created, voted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (vote_id) DO UPDATE SET session_tag = excluded.session_tag,"
                    " prompt = excluded.prompt, deployments = excluded.deployments, trace_ids = excluded.trace_ids,"
                    " verdict = excluded.verdict, winner = excluded.winner, winner_index = excluded.winner_index,"
                    " voted = excluded.voted WHERE arena_votes.owner IS NOT DISTINCT FROM excluded.owner",
                    values,
                )
        except StoreError as exc:
            raise self._error(exc, "written") from None

    def withdraw(self, vote_id: str, viewer: Viewer = ANONYMOUS) -> bool:
        """Remove the vote on a turn (the voter cleared it) if the viewer may read it; True when one was removed."""
        query, args = "DELETE FROM arena_votes WHERE vote_id = ?", [vote_id]
        if not viewer.sees_all:
            query += " AND owner = ?"
            args.append(viewer.owner)
        try:
            with self.db.transaction() as tx:
                return tx.execute(query, args).rowcount > 0
        except StoreError as exc:
            raise self._error(exc, "written") from None

    def votes(
        self, viewer: Viewer = ANONYMOUS, filt: VoteFilter = VoteFilter(), *, limit: int | None = None
    ) -> list[ArenaVote]:
        """The votes the viewer may read that pass the filter, oldest first (the order an online rating replays)."""
        where, args = _where(viewer, filt)
        query = f"SELECT {_COLUMNS} FROM arena_votes{where} ORDER BY voted, vote_id"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        return [_vote(row) for row in self._read(query, args)]

    def load(self, vote_id: str, viewer: Viewer = ANONYMOUS) -> ArenaVote | None:
        """The vote stored under `vote_id`, or None when there is none the viewer may read."""
        found = self._read(f"SELECT {_COLUMNS} FROM arena_votes WHERE vote_id = ?", (vote_id,))
        if not found or not viewer.can_read(found[0][1]):
            return None
        return _vote(found[0])

    def version(self, viewer: Viewer = ANONYMOUS, filt: VoteFilter = VoteFilter()) -> tuple[int, float]:
        """(how many votes, the latest vote time) under the filter: changes whenever a vote is added, changed or
        withdrawn, so it keys a cache of figures computed from the votes."""
        where, args = _where(viewer, filt)
        count, latest = self._read(f"SELECT count(*), max(voted) FROM arena_votes{where}", args)[0]
        return int(count), float(latest or 0.0)

    def session_tags(self, viewer: Viewer = ANONYMOUS) -> list[str]:
        """The session tags of the votes the viewer may read, in alphabetical order ("" when some had none)."""
        where, args = _where(viewer, VoteFilter())
        rows = self._read(f"SELECT DISTINCT session_tag FROM arena_votes{where} ORDER BY session_tag", args)
        return [str(row[0]) for row in rows]
