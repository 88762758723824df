"""The trace store: every span the playground recorded, and one summary row per trace for fast paging.

It lives in the area "traces" (SQLite: `traces.sqlite` under `PLAYGROUND_DATA_DIR`, in WAL mode so app threads and
several processes write at once, each write waiting up to 30 s for another writer; PostgreSQL: the database of
`PLAYGROUND_DATABASE_URL`). Retention keeps it bounded: traces older than `retention_days` and the oldest beyond
`max_spans` spans are deleted as whole traces. Spans and trace summaries carry the owner of the action that made
them, so the Traces page can show a user their own. The page reads it through `traces`, `count`, `spans`, `totals`
and `deployments`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.store.database import Database, StoreError, Transaction, open_reader_and_writer
from services.store.location import StoreConfigError

AREA = "traces"
TRACE_FILE = "traces.sqlite"

SPAN_COLUMNS = (
    "span_id", "trace_id", "start_ns", "end_ns", "page", "action", "operation", "deployment", "host", "api", "route",
    "request_model", "response_model", "request_id", "status", "http_status", "attempt", "retry_wait_s",
    "input_tokens", "output_tokens", "cost", "ttft_s", "total_s", "finish_reason", "error_type", "error",
    "request", "answer", "error_detail", "owner",
)  # fmt: skip

_INSERT_SPAN = (
    f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({', '.join('?' * len(SPAN_COLUMNS))})"
    " ON CONFLICT (span_id) DO NOTHING"
)
# Merging a span into its trace's summary row: lists are kept as ",a,b," so a LIKE '%,a,%' finds a member. The
# scalar min/max and instr of SQLite are LEAST/GREATEST and strpos in PostgreSQL.
_UPSERT_TRACE = """
INSERT INTO traces (trace_id, start_ns, end_ns, page, action, deployments, operations, spans, errors, retries,
                    stopped, input_tokens, output_tokens, cost, owner)
VALUES (:trace_id, :start_ns, :end_ns, :page, :action, ',' || :deployment || ',', ',' || :operation || ',', 1,
        :is_error, :is_retry, :is_stopped, coalesce(:input_tokens, 0), coalesce(:output_tokens, 0), :cost, :owner)
ON CONFLICT (trace_id) DO UPDATE SET
    start_ns = {least}(traces.start_ns, excluded.start_ns),
    end_ns = {greatest}(traces.end_ns, excluded.end_ns),
    deployments = CASE WHEN {instr}(traces.deployments, excluded.deployments) > 0 THEN traces.deployments
                       ELSE traces.deployments || substr(excluded.deployments, 2) END,
    operations = CASE WHEN {instr}(traces.operations, excluded.operations) > 0 THEN traces.operations
                      ELSE traces.operations || substr(excluded.operations, 2) END,
    spans = traces.spans + 1,
    errors = traces.errors + excluded.errors,
    retries = traces.retries + excluded.retries,
    stopped = traces.stopped + excluded.stopped,
    input_tokens = traces.input_tokens + excluded.input_tokens,
    output_tokens = traces.output_tokens + excluded.output_tokens,
    cost = CASE WHEN excluded.cost IS NULL THEN traces.cost ELSE coalesce(traces.cost, 0) + excluded.cost END,
    owner = coalesce(traces.owner, excluded.owner)
"""
_FUNCTIONS = {
    "sqlite": {"least": "min", "greatest": "max", "instr": "instr"},
    "postgresql": {"least": "LEAST", "greatest": "GREATEST", "instr": "strpos"},
}
_UPSERT_TEXT = """
INSERT INTO trace_text (trace_id, search) VALUES (:trace_id, :search)
ON CONFLICT (trace_id) DO UPDATE SET search = trace_text.search || ' ' || excluded.search
"""
_UPSERT_DEPLOYMENT = """
INSERT INTO trace_deployments (trace_id, deployment, calls, errors, retries, input_tokens, output_tokens, cost)
VALUES (:trace_id, :deployment, 1, :is_error, :is_retry, coalesce(:input_tokens, 0), coalesce(:output_tokens, 0),
        :cost)
ON CONFLICT (trace_id, deployment) DO UPDATE SET
    calls = trace_deployments.calls + 1,
    errors = trace_deployments.errors + excluded.errors,
    retries = trace_deployments.retries + excluded.retries,
    input_tokens = trace_deployments.input_tokens + excluded.input_tokens,
    output_tokens = trace_deployments.output_tokens + excluded.output_tokens,
    cost = CASE WHEN excluded.cost IS NULL THEN trace_deployments.cost
                ELSE coalesce(trace_deployments.cost, 0) + excluded.cost END
"""

SORTS = {
    "time": "start_ns",
    "latency": "(end_ns - start_ns)",
    "tokens": "(input_tokens + output_tokens)",
    "cost": "coalesce(cost, 0)",
    "errors": "errors",
}
_PRUNE_EVERY_S = 60.0


class TraceStoreError(Exception):
    """The store could not be read or written; the message names the file or database."""


@dataclass
class TraceFilter:
    """What the Traces page narrows to; empty fields do not filter (`owner` None: every owner's traces)."""

    deployments: Sequence[str] = ()
    operations: Sequence[str] = ()
    errors_only: bool = False
    since_ns: int | None = None
    until_ns: int | None = None
    text: str = ""
    trace_ids: Sequence[str] = field(default_factory=tuple)
    owner: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause over `traces` (aliased t) and its arguments."""
        clauses: list[str] = []
        args: list[Any] = []
        if self.deployments:
            clauses.append("(" + " OR ".join("t.deployments LIKE ? ESCAPE '\\'" for _ in self.deployments) + ")")
            args += [f"%,{_escape(name)},%" for name in self.deployments]
        if self.operations:
            clauses.append("(" + " OR ".join("t.operations LIKE ? ESCAPE '\\'" for _ in self.operations) + ")")
            args += [f"%,{_escape(name)},%" for name in self.operations]
        if self.errors_only:
            clauses.append("t.errors > 0")
        if self.since_ns is not None:
            clauses.append("t.start_ns >= ?")
            args.append(self.since_ns)
        if self.until_ns is not None:
            clauses.append("t.start_ns <= ?")
            args.append(self.until_ns)
        if self.text.strip():
            clauses.append("t.trace_id IN (SELECT trace_id FROM trace_text WHERE search LIKE ? ESCAPE '\\')")
            args.append(f"%{_escape(self.text.strip().lower())}%")
        if self.trace_ids:
            clauses.append(f"t.trace_id IN ({','.join('?' for _ in self.trace_ids)})")
            args += list(self.trace_ids)
        if self.owner is not None:
            clauses.append("t.owner = ?")
            args.append(self.owner)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _trace_status(errors: int, stopped: int) -> str:
    return "error" if errors else "stopped" if stopped else "ok"


class TraceStore:
    """write / traces / count / spans / totals / deployments / prune; safe to share between threads and processes.
    `location` (or `database_url`) None follows PLAYGROUND_DATABASE_URL (SQLite in the data directory by
    default); a path is that SQLite file, a URL that database."""

    def __init__(
        self,
        location: str | Path | Database | None = None,
        *,
        database_url: str | None = None,
        retention_days: float = 30.0,
        max_spans: int = 200_000,
    ) -> None:
        location = database_url if database_url is not None else location
        self.retention_days = retention_days
        self.max_spans = max_spans
        self._pruned_at = 0.0
        self._lock = threading.Lock()
        try:
            self._reader, self._writer = open_reader_and_writer(AREA, location)
        except StoreConfigError as exc:
            raise TraceStoreError(str(exc)) from None

    @property
    def where(self) -> str:
        """The file or database (without a password) the store reads and writes."""
        return self._reader.where

    def _error(self, exc: StoreError, doing: str) -> TraceStoreError:
        verb = "opened" if exc.opening else doing
        return TraceStoreError(f"The trace store {exc.where} cannot be {verb}: {exc}")

    def close(self) -> None:
        """Close the kept writing connection (reads open their own)."""
        with self._lock:
            self._writer.close()

    # --- writing ------------------------------------------------------------------------------------------------

    def write(self, rows: Iterable[dict[str, Any]]) -> int:
        """Store spans in one transaction (a span id seen before is not added twice) and prune now and then."""
        rows = list(rows)
        if not rows:
            return 0
        with self._lock:
            try:
                with self._writer.transaction() as tx:
                    upsert_trace = _UPSERT_TRACE.format(**_FUNCTIONS[tx.dialect])
                    for row in rows:
                        if tx.execute(_INSERT_SPAN, [row.get(name) for name in SPAN_COLUMNS]).rowcount:
                            summary = _summary_args(row)
                            tx.execute(upsert_trace, summary)
                            tx.execute(_UPSERT_DEPLOYMENT, summary)
                            if summary["search"]:
                                tx.execute(_UPSERT_TEXT, summary)
                    if time.monotonic() - self._pruned_at > _PRUNE_EVERY_S:
                        self._prune(tx, time.time_ns())
            except StoreError as exc:
                raise self._error(exc, "written") from None
        return len(rows)

    def prune(self, now_ns: int | None = None) -> int:
        """Apply retention now; returns how many traces were deleted."""
        try:
            with self._lock, self._writer.transaction() as tx:
                return self._prune(tx, time.time_ns() if now_ns is None else now_ns)
        except StoreError as exc:
            raise self._error(exc, "written") from None

    def _prune(self, tx: Transaction, now_ns: int) -> int:
        self._pruned_at = time.monotonic()
        cutoff = now_ns - int(self.retention_days * 86_400 * 1e9)
        total = tx.value("SELECT count(*) FROM spans")
        if total > self.max_spans:
            # Whole traces go, oldest first, until at most max_spans spans are left.
            found = tx.value("SELECT start_ns FROM spans ORDER BY start_ns DESC LIMIT 1 OFFSET ?", (self.max_spans,))
            if found is not None:
                cutoff = max(cutoff, int(found) + 1)
        doomed = "SELECT trace_id FROM traces WHERE start_ns < ?"
        for table in ("spans", "trace_text", "trace_deployments"):
            tx.execute(f"DELETE FROM {table} WHERE trace_id IN ({doomed})", (cutoff,))
        return tx.execute("DELETE FROM traces WHERE start_ns < ?", (cutoff,)).rowcount

    # --- reading ------------------------------------------------------------------------------------------------

    def _read(self, query: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            with self._reader.transaction(write=False) as tx:
                return tx.rows(query, list(args))
        except StoreError as exc:
            raise self._error(exc, "read") from None

    def traces(
        self,
        where: TraceFilter | None = None,
        *,
        sort: str = "time",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """One page of trace summaries (newest first by default)."""
        clause, args = (where or TraceFilter()).where()
        order = SORTS.get(sort)
        if order is None:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
        direction = "DESC" if descending else "ASC"
        rows = self._read(
            "SELECT trace_id, start_ns, end_ns, page, action, deployments, operations, spans, errors, retries,"
            f" stopped, input_tokens, output_tokens, cost, owner FROM traces t {clause}"
            f" ORDER BY {order} {direction}, start_ns {direction} LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        for item in rows:
            item["deployments"] = [name for name in item["deployments"].split(",") if name]
            item["operations"] = [name for name in item["operations"].split(",") if name]
            item["latency_s"] = (item["end_ns"] - item["start_ns"]) / 1e9
            item["status"] = _trace_status(item["errors"], item["stopped"])
        return rows

    def count(self, where: TraceFilter | None = None) -> int:
        """How many traces the filter selects."""
        clause, args = (where or TraceFilter()).where()
        return int(self._read(f"SELECT count(*) AS n FROM traces t {clause}", args)[0]["n"])

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        """Every span of one trace, in the order they started."""
        return self._read("SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns, attempt", (trace_id,))

    def spans_of(self, where: TraceFilter | None = None, *, limit: int = 10_000) -> list[dict[str, Any]]:
        """The spans of the newest traces the filter selects (at most `limit` spans), for an export."""
        clause, args = (where or TraceFilter()).where()
        # Traces are picked first (on their small summary rows), then their spans are fetched by trace id.
        return self._read(
            f"SELECT s.* FROM (SELECT t.trace_id, t.start_ns AS picked_at FROM traces t {clause}"
            " ORDER BY t.start_ns DESC LIMIT ?) AS picked JOIN spans s ON s.trace_id = picked.trace_id"
            " ORDER BY picked.picked_at DESC, s.start_ns LIMIT ?",
            [*args, limit, limit],
        )

    def totals(self, where: TraceFilter | None = None) -> list[dict[str, Any]]:
        """Per deployment over the filtered traces: calls, errors, retried attempts, tokens and cost."""
        clause, args = (where or TraceFilter()).where()
        return self._read(
            "SELECT d.deployment AS deployment, sum(d.calls) AS calls, sum(d.errors) AS errors,"
            " sum(d.retries) AS retries, sum(d.input_tokens) AS input_tokens, sum(d.output_tokens) AS output_tokens,"
            " sum(d.cost) AS cost"
            f" FROM trace_deployments d JOIN traces t ON t.trace_id = d.trace_id {clause}"
            " GROUP BY d.deployment ORDER BY calls DESC, d.deployment",
            args,
        )

    def deployments(self) -> list[str]:
        """Every deployment with a recorded span (for the filter's choices)."""
        rows = self._read("SELECT DISTINCT deployment FROM spans ORDER BY deployment")
        return [str(row["deployment"]) for row in rows]


def _summary_args(row: dict[str, Any]) -> dict[str, Any]:
    status = row.get("status")
    return {
        "trace_id": row["trace_id"],
        "start_ns": row["start_ns"],
        "end_ns": row["end_ns"],
        "page": row.get("page"),
        "action": row.get("action"),
        "deployment": row["deployment"],
        "operation": row["operation"],
        "is_error": int(status == "error"),
        "is_retry": int(status == "retried"),
        "is_stopped": int(status == "stopped"),
        "input_tokens": row.get("input_tokens"),
        "output_tokens": row.get("output_tokens"),
        "cost": row.get("cost"),
        "search": row.get("search") or "",
        "owner": row.get("owner"),
    }
