"""A cache of embedding vectors keyed by deployment, model, request parameters and a hash of the text.

It lives in the area "embeddings" (SQLite: `embeddings.sqlite` under `PLAYGROUND_DATA_DIR`; PostgreSQL: the database
of `PLAYGROUND_DATABASE_URL`), so re-embedding the same texts with the same deployment and options costs nothing,
across reruns and restarts alike. Vectors are facts about deployments, shared by every user: they have no owner.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.config import Deployment
from services.store.database import Database, StoreError, open_database
from services.store.location import StoreConfigError

log = logging.getLogger(__name__)

AREA = "embeddings"
CACHE_FILE = "embeddings.sqlite"
# SQLite limits the number of bound parameters per statement; stay well under it.
_LOOKUP_CHUNK = 500
_UPSERT = (
    "INSERT INTO embeddings (namespace, text_hash, dims, vector, created) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (namespace, text_hash) DO UPDATE SET dims = excluded.dims, vector = excluded.vector,"
    " created = excluded.created"
)


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
    """Thread-safe get/put of float32 vectors; a cache that cannot open or write degrades to a miss, never an error.
    `location` (or `database_url`) None follows PLAYGROUND_DATABASE_URL (SQLite in the data directory by
    default); a path is that SQLite file, a URL that database."""

    def __init__(self, location: str | Path | Database | None = None, *, database_url: str | None = None) -> None:
        location = database_url if database_url is not None else location
        self._lock = threading.Lock()
        self._broken = False
        self.db: Database | None = None
        try:
            # One kept SQLite connection, as before: the cache is read and written many times per job.
            self.db = (
                location if isinstance(location, Database) else open_database(AREA, location, keep_connection=True)
            )
        except StoreConfigError as exc:
            log.warning("embedding cache is unavailable, continuing without it: %s", exc)
            self._broken = True

    def _usable(self) -> Database | None:
        return None if self._broken else self.db

    def _failed(self, exc: StoreError, doing: str) -> None:
        if exc.opening:
            # Opening failed: stop trying for this cache's lifetime (every call would fail the same way).
            log.warning("embedding cache at %s is unavailable, continuing without it: %s", exc.where, exc)
            self._broken = True
        else:
            log.warning("embedding cache %s failed: %s", doing, exc)

    def get_many(self, namespace: str, texts: Sequence[str]) -> dict[int, NDArray[np.float32]]:
        """Vectors found for `texts`, keyed by position in `texts` (duplicates all get the vector)."""
        hashes = [text_hash(text) for text in texts]
        found: dict[str, NDArray[np.float32]] = {}
        with self._lock:
            db = self._usable()
            if db is None:
                return {}
            unique = list(dict.fromkeys(hashes))
            try:
                with db.transaction(write=False) as tx:
                    for start in range(0, len(unique), _LOOKUP_CHUNK):
                        chunk = unique[start : start + _LOOKUP_CHUNK]
                        marks = ",".join("?" * len(chunk))
                        query = (
                            "SELECT text_hash, dims, vector FROM embeddings"
                            f" WHERE namespace = ? AND text_hash IN ({marks})"
                        )
                        for digest, dims, blob in tx.execute(query, [namespace, *chunk]).fetchall():
                            vector = np.frombuffer(bytes(blob), dtype="<f4")
                            if vector.shape[0] == dims:
                                found[digest] = vector.astype(np.float32)
            except StoreError as exc:
                self._failed(exc, "read")
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
            db = self._usable()
            if db is None:
                return
            try:
                with db.transaction() as tx:
                    tx.executemany(_UPSERT, rows)
            except StoreError as exc:
                self._failed(exc, "write")

    def count(self, namespace: str | None = None) -> int:
        """How many vectors are stored (in one namespace, or in all); 0 when the cache is unavailable."""
        query, args = "SELECT COUNT(*) FROM embeddings", ()
        if namespace is not None:
            query, args = query + " WHERE namespace = ?", (namespace,)
        with self._lock:
            db = self._usable()
            if db is None:
                return 0
            try:
                with db.transaction(write=False) as tx:
                    return int(tx.value(query, args))
            except StoreError as exc:
                self._failed(exc, "read")
                return 0

    def clear(self) -> None:
        """Forget every stored vector."""
        with self._lock:
            db = self._usable()
            if db is None:
                return
            try:
                with db.transaction() as tx:
                    tx.execute("DELETE FROM embeddings")
            except StoreError as exc:
                self._failed(exc, "write")

    def close(self) -> None:
        """Close the kept connection (a later call opens a new one)."""
        with self._lock:
            if self.db is not None:
                self.db.close()
