"""A SQLite store of learned refusals: the parameters a deployment rejected (a 422, a probe), with when and why.

It lives under the data directory (`PLAYGROUND_DATA_DIR`, default `.data/` at the repository root) beside the
conversation store, so what the playground learned survives a reload and a restart, and the chat page, the compare
page and the capability map read the same answers. A refusal belongs to a deployment name *at* an endpoint (and
model): two endpoints that use one deployment name never share what was learned about either.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from services.embedding_cache import data_dir

STORE_FILE = "refusals.sqlite"
# A reason is one line for a caption; a longer one (an endpoint's whole error body) is cut.
MAX_REASON_CHARS = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refusals (
    deployment TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    param TEXT NOT NULL,
    reason TEXT NOT NULL,
    learned REAL NOT NULL,
    PRIMARY KEY (deployment, endpoint, model, param)
) WITHOUT ROWID
"""


class RefusalStoreError(Exception):
    """The store could not be read or written; the message names the file."""


@dataclass(frozen=True)
class Refusal:
    """One learned refusal: `deployment` (at `endpoint`, `model`) does not take `param`, since `learned`, because
    `reason`."""

    deployment: str
    endpoint: str
    model: str
    param: str
    reason: str
    learned: dt.datetime


def endpoint_key(endpoint: str) -> str:
    """The endpoint as the store compares it: without a trailing slash, so `https://x/` and `https://x` match."""
    return endpoint.strip().rstrip("/")


class RefusalStore:
    """record / refusals / all / forget of learned refusals; safe to share between threads and processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else data_dir() / STORE_FILE

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")  # several Streamlit sessions or processes may share the file
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a write must not hold up the page
            conn.execute(_SCHEMA)
            return conn
        except (sqlite3.Error, OSError) as exc:
            raise RefusalStoreError(f"The refusal store {self.path} cannot be opened: {exc}") from exc

    def record(
        self,
        deployment: str,
        endpoint: str,
        param: str,
        reason: str,
        *,
        model: str | None = None,
        when: float | None = None,
    ) -> None:
        """Remember (or refresh) that the deployment refuses `param`; raise ValueError for an empty name or param."""
        if not deployment.strip() or not param.strip():
            raise ValueError("A refusal needs a deployment name and a parameter name.")
        row = (
            deployment,
            endpoint_key(endpoint),
            model or "",
            param,
            " ".join(reason.split())[:MAX_REASON_CHARS],
            time.time() if when is None else when,
        )
        try:
            with closing(self._connect()) as conn, conn:
                conn.execute(
                    "INSERT OR REPLACE INTO refusals (deployment, endpoint, model, param, reason, learned)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
        except sqlite3.Error as exc:
            raise RefusalStoreError(f"The refusal store {self.path} cannot be written: {exc}") from exc

    def _select(self, where: str, args: tuple[str, ...]) -> list[Refusal]:
        try:
            with closing(self._connect()) as conn:
                rows = conn.execute(
                    "SELECT deployment, endpoint, model, param, reason, learned FROM refusals"
                    f" {where} ORDER BY deployment, endpoint, model, param",
                    args,
                ).fetchall()
        except sqlite3.Error as exc:
            raise RefusalStoreError(f"The refusal store {self.path} cannot be read: {exc}") from exc
        return [
            Refusal(str(d), str(e), str(m), str(p), str(r), dt.datetime.fromtimestamp(float(t), dt.UTC))
            for d, e, m, p, r, t in rows
        ]

    def refusals(self, deployment: str, endpoint: str, *, model: str | None = None) -> dict[str, Refusal]:
        """The refusals learned for this deployment at this endpoint (and model), by parameter name."""
        found = self._select(
            "WHERE deployment = ? AND endpoint = ? AND model = ?", (deployment, endpoint_key(endpoint), model or "")
        )
        return {refusal.param: refusal for refusal in found}

    def all(self) -> list[Refusal]:
        """Every learned refusal, ordered by deployment, endpoint, model and parameter."""
        return self._select("", ())

    def forget(self, deployment: str, endpoint: str, *, model: str | None = None, param: str | None = None) -> int:
        """Forget one parameter's refusal, or all of the deployment's (param None); return how many were removed."""
        query = "DELETE FROM refusals WHERE deployment = ? AND endpoint = ? AND model = ?"
        args: tuple[str, ...] = (deployment, endpoint_key(endpoint), model or "")
        if param is not None:
            query += " AND param = ?"
            args += (param,)
        try:
            with closing(self._connect()) as conn, conn:
                return conn.execute(query, args).rowcount
        except sqlite3.Error as exc:
            raise RefusalStoreError(f"The refusal store {self.path} cannot be written: {exc}") from exc
