"""A SQLite store of chat conversations (transcript JSON, see services.transcript) by a random conversation id.

It lives under the data directory (`PLAYGROUND_DATA_DIR`, default `.data/` at the repository root), so a
conversation survives a browser reload and an app restart. Only the transcript is stored, never a key: every
conversation is re-serialised through the transcript model, which has no field for one.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from services.embedding_cache import data_dir
from services.transcript import TranscriptError, from_json, to_json

STORE_FILE = "conversations.sqlite"
# Ids come from URLs, so only short URL-safe tokens are accepted.
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    transcript TEXT NOT NULL,
    updated REAL NOT NULL
) WITHOUT ROWID
"""


class ConversationStoreError(Exception):
    """The store could not be read or written; the message names the file."""


def new_conversation_id() -> str:
    """A fresh random id (22 URL-safe characters, 128 bits)."""
    return secrets.token_urlsafe(16)


def is_valid_id(conversation_id: str) -> bool:
    """True for an id this store could have made (URL-safe characters, 8 to 64 of them)."""
    return bool(_ID_PATTERN.fullmatch(conversation_id))


class ConversationStore:
    """save(id, json) and load(id) of conversation transcripts; safe to share between threads and processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else data_dir() / STORE_FILE

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")  # several Streamlit sessions or processes may share the file
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a save must not hold up the page
            conn.execute(_SCHEMA)
            return conn
        except (sqlite3.Error, OSError) as exc:
            raise ConversationStoreError(f"The conversation store {self.path} cannot be opened: {exc}") from exc

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
                    (conversation_id, canonical, time.time()),
                )
        except sqlite3.Error as exc:
            raise ConversationStoreError(f"The conversation store {self.path} cannot be written: {exc}") from exc

    def load(self, conversation_id: str) -> str | None:
        """The stored transcript JSON, or None for an id that is unknown (or could not be one)."""
        if not is_valid_id(conversation_id):
            return None
        try:
            with closing(self._connect()) as conn:
                row = conn.execute("SELECT transcript FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        except sqlite3.Error as exc:
            raise ConversationStoreError(f"The conversation store {self.path} cannot be read: {exc}") from exc
        return None if row is None else str(row[0])
