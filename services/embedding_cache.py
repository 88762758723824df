"""A SQLite cache of embedding vectors keyed by deployment, model, request parameters and a hash of the text.

It lives under the data directory (`PLAYGROUND_DATA_DIR`, default `.data/` at the repository root), so re-embedding
the same texts with the same deployment and options costs nothing, across reruns and restarts alike.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.config import Deployment

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR_ENV = "PLAYGROUND_DATA_DIR"
CACHE_FILE = "embeddings.sqlite"
# SQLite limits the number of bound parameters per statement; stay well under it.
_LOOKUP_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    namespace TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    dims INTEGER NOT NULL,
    vector BLOB NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (namespace, text_hash)
) WITHOUT ROWID
"""


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory for local state: `PLAYGROUND_DATA_DIR` when set, else `.data/` at the repository root."""
    env = os.environ if environ is None else environ
    configured = env.get(DATA_DIR_ENV, "").strip()
    return Path(configured).expanduser() if configured else REPO_ROOT / ".data"


def text_hash(text: str) -> str:
    """SHA-256 of the UTF-8 text: the cache never stores the text itself."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_namespace(deployment: Deployment, params: Mapping[str, Any]) -> str:
    """A stable id for "these vectors came from this deployment and model with these options" (never the key)."""
    identity = {
        "deployment": deployment.name,
        "endpoint": deployment.endpoint,
        "api": deployment.api,
        "model": deployment.model,
        "azureml_deployment": deployment.azureml_deployment,
        "params": {name: value for name, value in sorted(params.items()) if value is not None},
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Thread-safe get/put of float32 vectors; a cache that cannot open or write degrades to a miss, never an error."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else data_dir() / CACHE_FILE
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._broken:
            return self._conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")  # several Streamlit sessions or processes may share the file
            conn.execute(_SCHEMA)
            conn.commit()
            self._conn = conn
        except (sqlite3.Error, OSError) as exc:
            log.warning("embedding cache at %s is unavailable, continuing without it: %s", self.path, exc)
            self._broken = True
        return self._conn

    def get_many(self, namespace: str, texts: Sequence[str]) -> dict[int, NDArray[np.float32]]:
        """Vectors found for `texts`, keyed by position in `texts` (duplicates all get the vector)."""
        hashes = [text_hash(text) for text in texts]
        found: dict[str, NDArray[np.float32]] = {}
        with self._lock:
            conn = self._connection()
            if conn is None:
                return {}
            unique = list(dict.fromkeys(hashes))
            try:
                for start in range(0, len(unique), _LOOKUP_CHUNK):
                    chunk = unique[start : start + _LOOKUP_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    query = (
                        f"SELECT text_hash, dims, vector FROM embeddings WHERE namespace = ? AND text_hash IN ({marks})"
                    )
                    rows = conn.execute(query, [namespace, *chunk]).fetchall()
                    for digest, dims, blob in rows:
                        vector = np.frombuffer(blob, dtype="<f4")
                        if vector.shape[0] == dims:
                            found[digest] = vector.astype(np.float32)
            except sqlite3.Error as exc:
                log.warning("embedding cache read failed: %s", exc)
                return {}
        return {i: found[digest] for i, digest in enumerate(hashes) if digest in found}

    def put_many(self, namespace: str, texts: Sequence[str], vectors: NDArray[np.float32]) -> None:
        """Store one vector per text (rows of `vectors` in the order of `texts`)."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        now = time.time()
        rows = [
            (namespace, text_hash(text), int(vector.shape[0]), np.asarray(vector, dtype="<f4").tobytes(), now)
            for text, vector in zip(texts, vectors, strict=True)
        ]
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)", rows)
                conn.commit()
            except sqlite3.Error as exc:
                log.warning("embedding cache write failed: %s", exc)

    def count(self, namespace: str | None = None) -> int:
        """How many vectors are stored (in one namespace, or in all)."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return 0
            if namespace is None:
                return int(conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
            query = "SELECT COUNT(*) FROM embeddings WHERE namespace = ?"
            return int(conn.execute(query, (namespace,)).fetchone()[0])

    def clear(self) -> None:
        """Forget every stored vector."""
        with self._lock:
            conn = self._connection()
            if conn is not None:
                conn.execute("DELETE FROM embeddings")
                conn.commit()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
