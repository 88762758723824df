"""The store of chat conversations (transcript JSON, see services.transcript) by a random conversation id.

It lives in the area "conversations" (SQLite: `conversations.sqlite` under `PLAYGROUND_DATA_DIR`; PostgreSQL: the
database of `PLAYGROUND_DATABASE_URL`), so a conversation survives a browser reload and an app restart. Only the
transcript is stored, never a key: every conversation is re-serialised through the transcript model, which has no
field for one.

Ids are 128 random bits, so a link cannot be guessed. A conversation can also be given a share id: another random
id that opens it read-only for anyone and says nothing about the conversation's own id (which is what lets a page
save over it). A conversation belongs to the owner who saved it first (services.identity): another owner can neither
read, list nor overwrite it, only open its share link. Conversations not updated for
`PLAYGROUND_CONVERSATION_RETENTION_DAYS` days (default 90, 0 keeps them forever) are removed with their share ids
when a store is opened, at most once an hour per process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.identity import ANONYMOUS, Viewer
from services.store.database import Database, StoreError, Transaction, open_database
from services.store.location import StoreConfigError
from services.transcript import TranscriptError, from_json, to_json

AREA = "conversations"
STORE_FILE = "conversations.sqlite"
RETENTION_ENV = "PLAYGROUND_CONVERSATION_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90.0
PURGE_INTERVAL_S = 3600.0
ID_BYTES = 16
TITLE_CHARS = 60
# What token_urlsafe(16) makes: 22 URL-safe characters. Ids come from URLs, so nothing shorter (guessable) or
# longer, and no other character, is ever looked up.
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,64}")

# When each database was last purged by this process (by the store's clock), so opening is cheap.
_last_purge: dict[str, float] = {}
_purge_lock = threading.Lock()


class ConversationStoreError(Exception):
    """The store could not be read or written; the message names the file or database."""


class ConversationOwnedError(ConversationStoreError, PermissionError):
    """The conversation id belongs to another owner: it cannot be saved over."""


@dataclass(frozen=True)
class ConversationSummary:
    """One line of "My conversations": the id, a title (the first user message, cut) and when it was saved."""

    id: str
    title: str
    updated: dt.datetime


def new_conversation_id() -> str:
    """A fresh random id (22 URL-safe characters, 128 bits); share ids are made the same way."""
    return secrets.token_urlsafe(ID_BYTES)


def is_valid_id(conversation_id: str) -> bool:
    """True for an id this store could have made (22 to 64 URL-safe characters)."""
    return bool(_ID_PATTERN.fullmatch(conversation_id))


def retention_days_from_env(environ: Mapping[str, str] | None = None) -> float:
    """PLAYGROUND_CONVERSATION_RETENTION_DAYS as days (0 keeps conversations forever); raise ConversationStoreError
    naming the variable when it is not a number of days."""
    raw = (os.environ if environ is None else environ).get(RETENTION_ENV, "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not days >= 0 or days == float("inf"):
        raise ConversationStoreError(f"{RETENTION_ENV} must be a number of days (0 keeps forever), not {raw!r}.")
    return days


def title_of(transcript_json: str) -> str:
    """The first user message on one line, cut to about TITLE_CHARS characters ("" when there is none)."""
    try:
        messages = json.loads(transcript_json).get("messages") or []
    except (ValueError, AttributeError):
        return ""
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            line = " ".join(message["content"].split())
            if line:
                return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"
    return ""


class ConversationStore:
    """save / load / share ids / list_for / retention of conversation transcripts; safe to share between threads
    and processes. `location` (or `database_url`) None follows PLAYGROUND_DATABASE_URL (SQLite in the data directory by
    default); a path is that SQLite file, a URL that database."""

    def __init__(
        self,
        location: str | Path | Database | None = None,
        *,
        database_url: str | None = None,
        retention_days: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        location = database_url if database_url is not None else location
        self.retention_days = retention_days_from_env() if retention_days is None else retention_days
        self.clock = clock
        try:
            self.db = location if isinstance(location, Database) else open_database(AREA, location)
        except StoreConfigError as exc:
            raise ConversationStoreError(str(exc)) from None

    @property
    def where(self) -> str:
        """The file or database (without a password) the store reads and writes."""
        return self.db.where

    def _error(self, exc: StoreError, doing: str) -> ConversationStoreError:
        verb = "opened" if exc.opening else doing
        return ConversationStoreError(f"The conversation store {exc.where} cannot be {verb}: {exc}")

    def _purge_if_due(self) -> None:
        if self.retention_days <= 0:
            return
        now = self.clock()
        with _purge_lock:
            last = _last_purge.get(self.where)
            if last is not None and 0 <= now - last < PURGE_INTERVAL_S:
                return
            _last_purge[self.where] = now
        with self.db.transaction() as tx:
            self._purge(tx, now)

    def _purge(self, tx: Transaction, now: float) -> int:
        cutoff = now - self.retention_days * 86400.0
        removed = tx.execute("DELETE FROM conversations WHERE updated < ?", (cutoff,)).rowcount
        tx.execute("DELETE FROM shares WHERE conversation_id NOT IN (SELECT id FROM conversations)")
        return removed

    def purge_expired(self) -> int:
        """Remove conversations not updated within the retention period, and their share ids, now; return how
        many conversations went (0 when retention is off)."""
        if self.retention_days <= 0:
            return 0
        now = self.clock()
        try:
            with self.db.transaction() as tx:
                removed = self._purge(tx, now)
        except StoreError as exc:
            raise self._error(exc, "written") from None
        with _purge_lock:
            _last_purge[self.where] = now
        return removed

    def save(self, conversation_id: str, transcript_json: str, owner: str | None = None) -> None:
        """Store (or replace) the conversation. The first owner to save an id keeps it: saving someone else's
        conversation raises ConversationOwnedError (a PermissionError); `owner` None (sign-in off) saves over any.
        Raise ValueError for a bad id or a text that is not a transcript."""
        if not is_valid_id(conversation_id):
            raise ValueError(f"Invalid conversation id {conversation_id!r}.")
        try:
            # Re-serialising keeps only the transcript's own fields, so nothing else (a key) can be smuggled in.
            canonical = to_json(from_json(transcript_json))
        except TranscriptError as exc:
            raise ValueError(f"Not a chat transcript: {exc}") from exc
        upsert = (
            "INSERT INTO conversations (id, transcript, updated, owner, title) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET transcript = excluded.transcript, updated = excluded.updated,"
            " title = excluded.title"
        )
        if owner is not None:
            # Only the owner's own row is updated; any other existing row is left alone (and reported below).
            upsert += " WHERE conversations.owner = excluded.owner"
        try:
            self._purge_if_due()
            with self.db.transaction() as tx:
                changed = tx.execute(
                    upsert, (conversation_id, canonical, self.clock(), owner, title_of(canonical))
                ).rowcount
        except StoreError as exc:
            raise self._error(exc, "written") from None
        if not changed:
            raise ConversationOwnedError(
                f"The conversation {conversation_id} belongs to someone else: save it as a new conversation."
            )

    def load(self, conversation_id: str, viewer: Viewer = ANONYMOUS) -> str | None:
        """The stored transcript JSON, or None for an id that is unknown (or could not be one) or that the viewer
        may not read."""
        found = self._fetch("SELECT transcript, owner FROM conversations WHERE id = ?", conversation_id)
        if found is None or not viewer.can_read(found[1]):
            return None
        return str(found[0])

    def share_id(self, conversation_id: str, viewer: Viewer = ANONYMOUS) -> str | None:
        """The read-only share id of a saved conversation the viewer may read (made on first use, the same one
        afterwards); None when there is no such conversation."""
        if not is_valid_id(conversation_id):
            return None
        try:
            self._purge_if_due()
            with self.db.transaction() as tx:
                row = tx.execute("SELECT owner FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
                if row is None or not viewer.can_read(row[0]):
                    return None
                existing = tx.value("SELECT share_id FROM shares WHERE conversation_id = ?", (conversation_id,))
                if existing is not None:
                    return str(existing)
                # Two pages sharing at once: the first share id made is the one both get.
                tx.execute(
                    "INSERT INTO shares (share_id, conversation_id, created) VALUES (?, ?, ?)"
                    " ON CONFLICT (conversation_id) DO NOTHING",
                    (new_conversation_id(), conversation_id, self.clock()),
                )
                return str(tx.value("SELECT share_id FROM shares WHERE conversation_id = ?", (conversation_id,)))
        except StoreError as exc:
            raise self._error(exc, "written") from None

    def load_shared(self, share_id: str) -> str | None:
        """The transcript JSON a share id opens (for anyone), or None for a share id that is unknown (or could not
        be one)."""
        found = self._fetch(
            "SELECT c.transcript FROM shares s JOIN conversations c ON c.id = s.conversation_id WHERE s.share_id = ?",
            share_id,
        )
        return None if found is None else str(found[0])

    def list_for(self, viewer: Viewer = ANONYMOUS, limit: int = 50) -> list[ConversationSummary]:
        """The conversations the viewer may read, newest first (all of them for an admin or with sign-in off)."""
        # The transcript is read only for rows saved before titles were kept.
        query = "SELECT id, title, CASE WHEN title IS NULL THEN transcript END, updated FROM conversations"
        args: list[object] = []
        if not viewer.sees_all:
            query += " WHERE owner = ?"
            args.append(viewer.owner)
        query += " ORDER BY updated DESC, id LIMIT ?"
        args.append(limit)
        try:
            self._purge_if_due()
            with self.db.transaction(write=False) as tx:
                rows = tx.execute(query, args).fetchall()
        except StoreError as exc:
            raise self._error(exc, "read") from None
        return [
            ConversationSummary(
                id=str(row[0]),
                title=str(row[1]) if row[1] is not None else title_of(str(row[2])),
                updated=dt.datetime.fromtimestamp(float(row[3]), dt.UTC),
            )
            for row in rows
        ]

    def _fetch(self, query: str, key: str) -> tuple[object, ...] | None:
        if not is_valid_id(key):
            return None
        try:
            self._purge_if_due()
            with self.db.transaction(write=False) as tx:
                row = tx.execute(query, (key,)).fetchone()
        except StoreError as exc:
            raise self._error(exc, "read") from None
        return None if row is None else tuple(row)
