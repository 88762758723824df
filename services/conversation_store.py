"""A SQLite store of chat conversations (transcript JSON, see services.transcript) by a random conversation id.

It lives under the data directory (`PLAYGROUND_DATA_DIR`, default `.data/` at the repository root), so a
conversation survives a browser reload and an app restart. Only the transcript is stored, never a key: every
conversation is re-serialised through the transcript model, which has no field for one.

Ids are 128 random bits, so a link cannot be guessed. A conversation can also be given a share id: another random
id that opens it read-only and says nothing about the conversation's own id (which is what lets a page save over it).
Conversations not updated for `PLAYGROUND_CONVERSATION_RETENTION_DAYS` days (default 90, 0 keeps them forever) are
removed with their share ids when a store is opened, at most once an hour per process.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path

from services.embedding_cache import data_dir
from services.transcript import TranscriptError, from_json, to_json

STORE_FILE = "conversations.sqlite"
RETENTION_ENV = "PLAYGROUND_CONVERSATION_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90.0
PURGE_INTERVAL_S = 3600.0
ID_BYTES = 16
# What token_urlsafe(16) makes: 22 URL-safe characters. Ids come from URLs, so nothing shorter (guessable) or
# longer, and no other character, is ever looked up.
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,64}")

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS conversations (
        id TEXT PRIMARY KEY,
        transcript TEXT NOT NULL,
        updated REAL NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated)",
    """
    CREATE TABLE IF NOT EXISTS shares (
        share_id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL UNIQUE,
        created REAL NOT NULL
    ) WITHOUT ROWID
    """,
)

# When each store file was last purged by this process (by the store's clock), so opening is cheap.
_last_purge: dict[Path, float] = {}
_purge_lock = threading.Lock()


class ConversationStoreError(Exception):
    """The store could not be read or written; the message names the file."""


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


class ConversationStore:
    """save(id, json), load(id), share ids and retention of conversation transcripts; safe to share between
    threads and processes."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        retention_days: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path) if path is not None else data_dir() / STORE_FILE
        self.retention_days = retention_days_from_env() if retention_days is None else retention_days
        self.clock = clock

    def _connect(self, *, purge: bool = True) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")  # several Streamlit sessions or processes may share the file
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a save must not hold up the page
            for statement in _SCHEMA:
                conn.execute(statement)
            if purge:
                self._purge_if_due(conn)
            return conn
        except (sqlite3.Error, OSError) as exc:
            raise ConversationStoreError(f"The conversation store {self.path} cannot be opened: {exc}") from exc

    def _purge_if_due(self, conn: sqlite3.Connection) -> None:
        if self.retention_days <= 0:
            return
        now = self.clock()
        key = self.path.resolve()
        with _purge_lock:
            last = _last_purge.get(key)
            if last is not None and 0 <= now - last < PURGE_INTERVAL_S:
                return
            _last_purge[key] = now
        self._purge(conn, now)

    def _purge(self, conn: sqlite3.Connection, now: float) -> int:
        cutoff = now - self.retention_days * 86400.0
        with conn:
            removed = conn.execute("DELETE FROM conversations WHERE updated < ?", (cutoff,)).rowcount
            conn.execute("DELETE FROM shares WHERE conversation_id NOT IN (SELECT id FROM conversations)")
        return removed

    def purge_expired(self) -> int:
        """Remove conversations not updated within the retention period, and their share ids, now; return how
        many conversations went (0 when retention is off)."""
        if self.retention_days <= 0:
            return 0
        now = self.clock()
        try:
            with closing(self._connect(purge=False)) as conn:
                removed = self._purge(conn, now)
        except sqlite3.Error as exc:
            raise ConversationStoreError(f"The conversation store {self.path} cannot be written: {exc}") from exc
        with _purge_lock:
            _last_purge[self.path.resolve()] = now
        return removed

    def save(self, conversation_id: str, transcript_json: str) -> None:
        """Store (or replace) the conversation; raise ValueError for a bad id or a text that is not a transcript."""
        if not is_valid_id(conversation_id):
            raise ValueError(f"Invalid conversation id {conversation_id!r}.")
        try:
            # Re-serialising keeps only the transcript's own fields, so nothing else (a key) can be smuggled in.
            canonical = to_json(from_json(transcript_json))
        except TranscriptError as exc:
            raise ValueError(f"Not a chat transcript: {exc}") from exc
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute(
                    "INSERT OR REPLACE INTO conversations (id, transcript, updated) VALUES (?, ?, ?)",
                    (conversation_id, canonical, self.clock()),
                )
        except sqlite3.Error as exc:
            raise ConversationStoreError(f"The conversation store {self.path} cannot be written: {exc}") from exc

    def load(self, conversation_id: str) -> str | None:
        """The stored transcript JSON, or None for an id that is unknown (or could not be one)."""
        return self._fetch("SELECT transcript FROM conversations WHERE id = ?", conversation_id)

    def share_id(self, conversation_id: str) -> str | None:
        """The read-only share id of a saved conversation (made on first use, the same one afterwards); None when
        no conversation has that id."""
        if not is_valid_id(conversation_id):
            return None
        try:
            with closing(self._connect()) as conn, conn:
                row = conn.execute(
                    "SELECT share_id FROM shares WHERE conversation_id = ?", (conversation_id,)
                ).fetchone()
                if row is not None:
                    return str(row[0])
                share_id = new_conversation_id()
                added = conn.execute(
                    "INSERT INTO shares (share_id, conversation_id, created) SELECT ?, id, ? FROM conversations"
                    " WHERE id = ?",
                    (share_id, self.clock(), conversation_id),
                ).rowcount
        except sqlite3.Error as exc:
            raise ConversationStoreError(f"The conversation store {self.path} cannot be written: {exc}") from exc
        return share_id if added else None

    def load_shared(self, share_id: str) -> str | None:
        """The transcript JSON a share id opens, or None for a share id that is unknown (or could not be one)."""
        return self._fetch(
            "SELECT c.transcript FROM shares s JOIN conversations c ON c.id = s.conversation_id WHERE s.share_id = ?",
            share_id,
        )

    def _fetch(self, query: str, key: str) -> str | None:
        if not is_valid_id(key):
            return None
        try:
            with closing(self._connect()) as conn:
                row = conn.execute(query, (key,)).fetchone()
        except sqlite3.Error as exc:
            raise ConversationStoreError(f"The conversation store {self.path} cannot be read: {exc}") from exc
        return None if row is None else str(row[0])
