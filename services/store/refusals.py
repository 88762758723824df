"""The store of learned refusals: the parameters a deployment rejected (a 422, a probe), with when and why.

It lives in the area "refusals" (SQLite: `refusals.sqlite` under `PLAYGROUND_DATA_DIR`; PostgreSQL: the database of
`PLAYGROUND_DATABASE_URL`), so what the playground learned survives a reload and a restart, and the chat page, the
compare page and the capability map read the same answers. A refusal belongs to a deployment name *at* an endpoint
(and model): two endpoints that use one deployment name never share what was learned about either. Refusals are
facts about deployments, shared by every user: they have no owner.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from services.store.database import Database, StoreError, open_database
from services.store.location import StoreConfigError

AREA = "refusals"
STORE_FILE = "refusals.sqlite"
# A reason is one line for a caption; a longer one (an endpoint's whole error body) is cut.
MAX_REASON_CHARS = 500


class RefusalStoreError(Exception):
    """The store could not be read or written; the message names the file or database."""


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
    """record / refusals / all / forget of learned refusals; safe to share between threads and processes.
    `location` (or `database_url`) None follows PLAYGROUND_DATABASE_URL (SQLite in the data directory by
    default); a path is that SQLite file, a URL that database."""

    def __init__(self, location: str | Path | Database | None = None, *, database_url: str | None = None) -> None:
        location = database_url if database_url is not None else location
        try:
            self.db = location if isinstance(location, Database) else open_database(AREA, location)
        except StoreConfigError as exc:
            raise RefusalStoreError(str(exc)) from None

    def _error(self, exc: StoreError, doing: str) -> RefusalStoreError:
        verb = "opened" if exc.opening else doing
        return RefusalStoreError(f"The refusal store {exc.where} cannot be {verb}: {exc}")

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
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO refusals (deployment, endpoint, model, param, reason, learned)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (deployment, endpoint, model, param)"
                    " DO UPDATE SET reason = excluded.reason, learned = excluded.learned",
                    row,
                )
        except StoreError as exc:
            raise self._error(exc, "written") from None

    def _select(self, where: str, args: tuple[str, ...]) -> list[Refusal]:
        try:
            with self.db.transaction(write=False) as tx:
                rows = tx.execute(
                    "SELECT deployment, endpoint, model, param, reason, learned FROM refusals"
                    f" {where} ORDER BY deployment, endpoint, model, param",
                    args,
                ).fetchall()
        except StoreError as exc:
            raise self._error(exc, "read") from None
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
            with self.db.transaction() as tx:
                return tx.execute(query, args).rowcount
        except StoreError as exc:
            raise self._error(exc, "written") from None
