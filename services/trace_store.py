"""The SQLite trace store: every span the playground recorded, and one summary row per trace for fast paging.

It lives under the data directory (`PLAYGROUND_DATA_DIR`) as `traces.sqlite`, in WAL mode so app threads and
several processes write at once (each write waits up to 30 s for another writer instead of failing). Retention keeps
it bounded: traces older than `retention_days` and the oldest beyond `max_spans` spans are deleted as whole traces.
The Traces page reads it through `traces`, `count`, `spans`, `totals` and `deployments`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Version 2: the free text and the per-deployment sums live beside the trace summaries, so listing, counting and
# totals never read the (large) text. The store holds a log: an older layout is dropped, not migrated.
SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    span_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    page TEXT, action TEXT, operation TEXT NOT NULL, deployment TEXT NOT NULL, host TEXT, api TEXT, route TEXT,
    request_model TEXT, response_model TEXT, request_id TEXT,
    status TEXT NOT NULL, http_status INTEGER, attempt INTEGER, retry_wait_s REAL,
    input_tokens INTEGER, output_tokens INTEGER, cost REAL, ttft_s REAL, total_s REAL,
    finish_reason TEXT, error_type TEXT, error TEXT,
    request TEXT, answer TEXT, error_detail TEXT
);
CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id, start_ns);
CREATE INDEX IF NOT EXISTS spans_deployment ON spans (deployment);
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    page TEXT, action TEXT,
    deployments TEXT NOT NULL,
    operations TEXT NOT NULL,
    spans INTEGER NOT NULL, errors INTEGER NOT NULL, retries INTEGER NOT NULL, stopped INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost REAL
);
CREATE INDEX IF NOT EXISTS traces_start ON traces (start_ns);
CREATE INDEX IF NOT EXISTS traces_latency ON traces ((end_ns - start_ns));
CREATE INDEX IF NOT EXISTS traces_tokens ON traces ((input_tokens + output_tokens));
CREATE TABLE IF NOT EXISTS trace_text (trace_id TEXT PRIMARY KEY, search TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trace_deployments (
    trace_id TEXT NOT NULL, deployment TEXT NOT NULL,
    calls INTEGER NOT NULL, errors INTEGER NOT NULL, retries INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost REAL,
    PRIMARY KEY (trace_id, deployment)
) WITHOUT ROWID;
"""
_TABLES = ("spans", "traces", "trace_text", "trace_deployments")

SPAN_COLUMNS = (
    "span_id", "trace_id", "start_ns", "end_ns", "page", "action", "operation", "deployment", "host", "api", "route",
    "request_model", "response_model", "request_id", "status", "http_status", "attempt", "retry_wait_s",
    "input_tokens", "output_tokens", "cost", "ttft_s", "total_s", "finish_reason", "error_type", "error",
    "request", "answer", "error_detail",
)  # fmt: skip

# Merging a span into its trace's summary row: lists are kept as ",a,b," so a LIKE '%,a,%' finds a member.
_UPSERT_TRACE = """
INSERT INTO traces (trace_id, start_ns, end_ns, page, action, deployments, operations, spans, errors, retries,
                    stopped, input_tokens, output_tokens, cost)
VALUES (:trace_id, :start_ns, :end_ns, :page, :action, ',' || :deployment || ',', ',' || :operation || ',', 1,
        :is_error, :is_retry, :is_stopped, coalesce(:input_tokens, 0), coalesce(:output_tokens, 0), :cost)
ON CONFLICT (trace_id) DO UPDATE SET
    start_ns = min(start_ns, excluded.start_ns),
    end_ns = max(end_ns, excluded.end_ns),
    deployments = CASE WHEN instr(deployments, excluded.deployments) THEN deployments
                       ELSE deployments || substr(excluded.deployments, 2) END,
    operations = CASE WHEN instr(operations, excluded.operations) THEN operations
                      ELSE operations || substr(excluded.operations, 2) END,
    spans = spans + 1,
    errors = errors + excluded.errors,
    retries = retries + excluded.retries,
    stopped = stopped + excluded.stopped,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cost = CASE WHEN excluded.cost IS NULL THEN cost ELSE coalesce(cost, 0) + excluded.cost END
"""
_UPSERT_TEXT = """
INSERT INTO trace_text (trace_id, search) VALUES (:trace_id, :search)
ON CONFLICT (trace_id) DO UPDATE SET search = search || ' ' || excluded.search
"""
_UPSERT_DEPLOYMENT = """
INSERT INTO trace_deployments (trace_id, deployment, calls, errors, retries, input_tokens, output_tokens, cost)
VALUES (:trace_id, :deployment, 1, :is_error, :is_retry, coalesce(:input_tokens, 0), coalesce(:output_tokens, 0),
        :cost)
ON CONFLICT (trace_id, deployment) DO UPDATE SET
    calls = calls + 1,
    errors = errors + excluded.errors,
    retries = retries + excluded.retries,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cost = CASE WHEN excluded.cost IS NULL THEN cost ELSE coalesce(cost, 0) + excluded.cost END
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
    """The store could not be read or written; the message names the file."""


@dataclass
class TraceFilter:
    """What the Traces page narrows to; empty fields do not filter."""

    deployments: Sequence[str] = ()
    operations: Sequence[str] = ()
    errors_only: bool = False
    since_ns: int | None = None
    until_ns: int | None = None
    text: str = ""
    trace_ids: Sequence[str] = field(default_factory=tuple)

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
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _trace_status(errors: int, stopped: int) -> str:
    return "error" if errors else "stopped" if stopped else "ok"


class TraceStore:
    """write / traces / count / spans / totals / deployments / prune; safe to share between threads and processes."""

    def __init__(self, path: str | Path, *, retention_days: float = 30.0, max_spans: int = 200_000) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self.max_spans = max_spans
        self._ready = False
        self._pruned_at = 0.0
        self._lock = threading.Lock()
        # The writer keeps its connection: opening and closing one per batch costs a WAL checkpoint and an fsync.
        self._writer: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")  # app threads and other processes write the same file
            conn.execute("PRAGMA synchronous=NORMAL")
            if not self._ready:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    with conn:
                        for table in _TABLES:
                            conn.execute(f"DROP TABLE IF EXISTS {table}")
                        conn.executescript(_SCHEMA)
                        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._ready = True
            return conn
        except (sqlite3.Error, OSError) as exc:
            raise TraceStoreError(f"The trace store {self.path} cannot be opened: {exc}") from exc

    def close(self) -> None:
        """Close the kept writing connection (reads open their own)."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    # --- writing ------------------------------------------------------------------------------------------------

    def write(self, rows: Iterable[dict[str, Any]]) -> int:
        """Store spans in one transaction (a span id seen before is not added twice) and prune now and then."""
        rows = list(rows)
        if not rows:
            return 0
        insert = (
            f"INSERT OR IGNORE INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({', '.join('?' * len(SPAN_COLUMNS))})"
        )
        with self._lock:
            try:
                if self._writer is None:
                    self._writer = self._connect()
                conn = self._writer
                with conn:
                    for row in rows:
                        if conn.execute(insert, [row.get(name) for name in SPAN_COLUMNS]).rowcount:
                            summary = _summary_args(row)
                            conn.execute(_UPSERT_TRACE, summary)
                            conn.execute(_UPSERT_DEPLOYMENT, summary)
                            if summary["search"]:
                                conn.execute(_UPSERT_TEXT, summary)
                    if time.monotonic() - self._pruned_at > _PRUNE_EVERY_S:
                        self._prune(conn, time.time_ns())
            except sqlite3.Error as exc:
                # A broken connection is not kept: the next batch opens a fresh one.
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
                raise TraceStoreError(f"The trace store {self.path} cannot be written: {exc}") from exc
        return len(rows)

    def prune(self, now_ns: int | None = None) -> int:
        """Apply retention now; returns how many traces were deleted."""
        try:
            with self._lock, closing(self._connect()) as conn, conn:
                return self._prune(conn, time.time_ns() if now_ns is None else now_ns)
        except sqlite3.Error as exc:
            raise TraceStoreError(f"The trace store {self.path} cannot be written: {exc}") from exc

    def _prune(self, conn: sqlite3.Connection, now_ns: int) -> int:
        self._pruned_at = time.monotonic()
        cutoff = now_ns - int(self.retention_days * 86_400 * 1e9)
        total = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
        if total > self.max_spans:
            # Whole traces go, oldest first, until at most max_spans spans are left.
            row = conn.execute(
                "SELECT start_ns FROM spans ORDER BY start_ns DESC LIMIT 1 OFFSET ?", (self.max_spans,)
            ).fetchone()
            if row is not None:
                cutoff = max(cutoff, int(row[0]) + 1)
        doomed = "SELECT trace_id FROM traces WHERE start_ns < ?"
        for table in ("spans", "trace_text", "trace_deployments"):
            conn.execute(f"DELETE FROM {table} WHERE trace_id IN ({doomed})", (cutoff,))
        return conn.execute("DELETE FROM traces WHERE start_ns < ?", (cutoff,)).rowcount

    # --- reading ------------------------------------------------------------------------------------------------

    def _read(self, query: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            with closing(self._connect()) as conn:
                conn.row_factory = sqlite3.Row
                return conn.execute(query, list(args)).fetchall()
        except sqlite3.Error as exc:
            raise TraceStoreError(f"The trace store {self.path} cannot be read: {exc}") from exc

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
            f" stopped, input_tokens, output_tokens, cost FROM traces t {clause}"
            f" ORDER BY {order} {direction}, start_ns {direction} LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        result = []
        for row in rows:
            item = dict(row)
            item["deployments"] = [name for name in item["deployments"].split(",") if name]
            item["operations"] = [name for name in item["operations"].split(",") if name]
            item["latency_s"] = (item["end_ns"] - item["start_ns"]) / 1e9
            item["status"] = _trace_status(item["errors"], item["stopped"])
            result.append(item)
        return result

    def count(self, where: TraceFilter | None = None) -> int:
        clause, args = (where or TraceFilter()).where()
        return int(self._read(f"SELECT count(*) FROM traces t {clause}", args)[0][0])

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        """Every span of one trace, in the order they started."""
        rows = self._read("SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns, attempt", (trace_id,))
        return [dict(row) for row in rows]

    def spans_of(self, where: TraceFilter | None = None, *, limit: int = 10_000) -> list[dict[str, Any]]:
        """The spans of the newest traces the filter selects (at most `limit` spans), for an export."""
        clause, args = (where or TraceFilter()).where()
        # Traces are picked first (on their small summary rows), then their spans are fetched by trace id.
        rows = self._read(
            f"SELECT s.* FROM (SELECT t.trace_id, t.start_ns AS picked_at FROM traces t {clause}"
            " ORDER BY t.start_ns DESC LIMIT ?) AS picked JOIN spans s ON s.trace_id = picked.trace_id"
            " ORDER BY picked.picked_at DESC, s.start_ns LIMIT ?",
            [*args, limit, limit],
        )
        return [dict(row) for row in rows]

    def totals(self, where: TraceFilter | None = None) -> list[dict[str, Any]]:
        """Per deployment over the filtered traces: calls, errors, retried attempts, tokens and cost."""
        clause, args = (where or TraceFilter()).where()
        rows = self._read(
            "SELECT d.deployment AS deployment, sum(d.calls) AS calls, sum(d.errors) AS errors,"
            " sum(d.retries) AS retries, sum(d.input_tokens) AS input_tokens, sum(d.output_tokens) AS output_tokens,"
            " sum(d.cost) AS cost"
            f" FROM trace_deployments d JOIN traces t ON t.trace_id = d.trace_id {clause}"
            " GROUP BY d.deployment ORDER BY calls DESC, d.deployment",
            args,
        )
        return [dict(row) for row in rows]

    def deployments(self) -> list[str]:
        """Every deployment with a recorded span (for the filter's choices)."""
        return [str(row[0]) for row in self._read("SELECT DISTINCT deployment FROM spans ORDER BY deployment")]


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
    }
