"""Versioned schema migrations per area, recorded in `schema_migrations(area, version, applied)`.

The first transaction of a store runs what is pending, all steps in one transaction under a lock, so several
replicas or processes starting at once apply each step exactly once: PostgreSQL takes `pg_advisory_xact_lock` with a
constant per area, SQLite `BEGIN IMMEDIATE` on the area's file. Step 1 of each area is the layout the playground
used before migrations (CREATE ... IF NOT EXISTS), so an existing SQLite file is adopted as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.store.database import Database, Transaction

Step = Callable[["Transaction"], None]

# Advisory lock ids (any constants unique to this app): one per area, one for creating schema_migrations itself.
LOCKS = {
    "schema_migrations": 0x504C_0000,
    "conversations": 0x504C_0001,
    "refusals": 0x504C_0002,
    "embeddings": 0x504C_0003,
    "traces": 0x504C_0004,
    "evals": 0x504C_0005,
    "arena": 0x504C_0006,
}

_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    area TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (area, version)
)
"""


def types(dialect: str) -> dict[str, str]:
    """DDL words per dialect: PostgreSQL's REAL is 4 bytes (times and costs need DOUBLE PRECISION), nanosecond times
    need BIGINT, bytes are BYTEA, and WITHOUT ROWID is SQLite's alone."""
    if dialect == "postgresql":
        return {"double": "DOUBLE PRECISION", "bigint": "BIGINT", "blob": "BYTEA", "without_rowid": ""}
    return {"double": "REAL", "bigint": "INTEGER", "blob": "BLOB", "without_rowid": " WITHOUT ROWID"}


def _ddl(*statements: str) -> Step:
    def run(tx: Transaction) -> None:
        for statement in statements:
            tx.execute(statement.format(**types(tx.dialect)))

    return run


_CONVERSATIONS_1 = _ddl(
    """
    CREATE TABLE IF NOT EXISTS conversations (
        id TEXT PRIMARY KEY,
        transcript TEXT NOT NULL,
        updated {double} NOT NULL
    ){without_rowid}
    """,
    "CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated)",
    """
    CREATE TABLE IF NOT EXISTS shares (
        share_id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL UNIQUE,
        created {double} NOT NULL
    ){without_rowid}
    """,
)
# Ownership: a conversation belongs to whoever saved it first; the title is kept for the "My conversations" list.
_CONVERSATIONS_2 = _ddl(
    "ALTER TABLE conversations ADD COLUMN owner TEXT",
    "ALTER TABLE conversations ADD COLUMN title TEXT",
    "CREATE INDEX IF NOT EXISTS conversations_owner ON conversations (owner, updated)",
)

_REFUSALS_1 = _ddl(
    """
    CREATE TABLE IF NOT EXISTS refusals (
        deployment TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        model TEXT NOT NULL,
        param TEXT NOT NULL,
        reason TEXT NOT NULL,
        learned {double} NOT NULL,
        PRIMARY KEY (deployment, endpoint, model, param)
    ){without_rowid}
    """
)

_EMBEDDINGS_1 = _ddl(
    """
    CREATE TABLE IF NOT EXISTS embeddings (
        namespace TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        dims INTEGER NOT NULL,
        vector {blob} NOT NULL,
        created {double} NOT NULL,
        PRIMARY KEY (namespace, text_hash)
    ){without_rowid}
    """
)

_TRACE_TABLES = ("spans", "traces", "trace_text", "trace_deployments")
# The trace layout before migrations was PRAGMA user_version 2; an older file held a log in another layout.
_TRACES_USER_VERSION = 2
_TRACES_1_DDL = _ddl(
    """
    CREATE TABLE IF NOT EXISTS spans (
        span_id TEXT PRIMARY KEY,
        trace_id TEXT NOT NULL,
        start_ns {bigint} NOT NULL,
        end_ns {bigint} NOT NULL,
        page TEXT, action TEXT, operation TEXT NOT NULL, deployment TEXT NOT NULL, host TEXT, api TEXT, route TEXT,
        request_model TEXT, response_model TEXT, request_id TEXT,
        status TEXT NOT NULL, http_status INTEGER, attempt INTEGER, retry_wait_s {double},
        input_tokens INTEGER, output_tokens INTEGER, cost {double}, ttft_s {double}, total_s {double},
        finish_reason TEXT, error_type TEXT, error TEXT,
        request TEXT, answer TEXT, error_detail TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id, start_ns)",
    "CREATE INDEX IF NOT EXISTS spans_deployment ON spans (deployment)",
    """
    CREATE TABLE IF NOT EXISTS traces (
        trace_id TEXT PRIMARY KEY,
        start_ns {bigint} NOT NULL,
        end_ns {bigint} NOT NULL,
        page TEXT, action TEXT,
        deployments TEXT NOT NULL,
        operations TEXT NOT NULL,
        spans INTEGER NOT NULL, errors INTEGER NOT NULL, retries INTEGER NOT NULL, stopped INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost {double}
    )
    """,
    "CREATE INDEX IF NOT EXISTS traces_start ON traces (start_ns)",
    "CREATE INDEX IF NOT EXISTS traces_latency ON traces ((end_ns - start_ns))",
    "CREATE INDEX IF NOT EXISTS traces_tokens ON traces ((input_tokens + output_tokens))",
    "CREATE TABLE IF NOT EXISTS trace_text (trace_id TEXT PRIMARY KEY, search TEXT NOT NULL)",
    """
    CREATE TABLE IF NOT EXISTS trace_deployments (
        trace_id TEXT NOT NULL, deployment TEXT NOT NULL,
        calls INTEGER NOT NULL, errors INTEGER NOT NULL, retries INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost {double},
        PRIMARY KEY (trace_id, deployment)
    ){without_rowid}
    """,
)


def _traces_1(tx: Transaction) -> None:
    if tx.dialect == "sqlite":
        version = tx.value("PRAGMA user_version")
        if version not in (0, _TRACES_USER_VERSION):
            # A log from before version 2 is dropped, as the store always did with an older layout.
            for table in _TRACE_TABLES:
                tx.execute(f"DROP TABLE IF EXISTS {table}")
    _TRACES_1_DDL(tx)


# Ownership: spans and trace summaries carry the owner of the action that made them.
_TRACES_2 = _ddl(
    "ALTER TABLE spans ADD COLUMN owner TEXT",
    "ALTER TABLE traces ADD COLUMN owner TEXT",
    "CREATE INDEX IF NOT EXISTS spans_owner ON spans (owner)",
    "CREATE INDEX IF NOT EXISTS traces_owner ON traces (owner, start_ns)",
)

# Evaluations: a run, its dataset rows (so it resumes and exports after a restart) and at most one cell per row and
# deployment (the primary key makes saving a cell twice keep one row).
_EVALS_1 = _ddl(
    """
    CREATE TABLE IF NOT EXISTS eval_runs (
        id TEXT PRIMARY KEY,
        owner TEXT,
        name TEXT NOT NULL,
        created {double} NOT NULL,
        status TEXT NOT NULL,
        heartbeat {double} NOT NULL,
        ended {double},
        prompt TEXT NOT NULL,
        dataset_name TEXT NOT NULL,
        dataset_digest TEXT NOT NULL,
        row_count INTEGER NOT NULL,
        deployments TEXT NOT NULL,
        overrides TEXT NOT NULL,
        evaluators TEXT NOT NULL,
        cells_done INTEGER NOT NULL,
        cells_errors INTEGER NOT NULL,
        cells_failed INTEGER NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS eval_runs_owner ON eval_runs (owner, created)",
    "CREATE INDEX IF NOT EXISTS eval_runs_created ON eval_runs (created)",
    """
    CREATE TABLE IF NOT EXISTS eval_rows (
        run_id TEXT NOT NULL,
        row_index INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, row_index)
    ){without_rowid}
    """,
    """
    CREATE TABLE IF NOT EXISTS eval_cells (
        run_id TEXT NOT NULL,
        row_index INTEGER NOT NULL,
        deployment TEXT NOT NULL,
        answer TEXT, error TEXT, error_type TEXT,
        latency_s {double}, input_tokens INTEGER, output_tokens INTEGER, cost {double},
        trace_id TEXT,
        verdicts TEXT NOT NULL,
        passed INTEGER,
        saved {double} NOT NULL,
        PRIMARY KEY (run_id, row_index, deployment)
    ){without_rowid}
    """,
)

# Arena votes: one row per compare turn voted on (its key is the turn's), so a changed vote replaces the stored one.
_ARENA_1 = _ddl(
    """
    CREATE TABLE IF NOT EXISTS arena_votes (
        vote_id TEXT PRIMARY KEY,
        owner TEXT,
        session_tag TEXT NOT NULL,
        prompt TEXT NOT NULL,
        deployments TEXT NOT NULL,
        trace_ids TEXT NOT NULL,
        verdict TEXT NOT NULL,
        winner TEXT,
        winner_index INTEGER,
        created {double} NOT NULL,
        voted {double} NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS arena_votes_voted ON arena_votes (voted)",
    "CREATE INDEX IF NOT EXISTS arena_votes_owner ON arena_votes (owner, voted)",
    "CREATE INDEX IF NOT EXISTS arena_votes_tag ON arena_votes (session_tag, voted)",
)

STEPS: dict[str, tuple[Step, ...]] = {
    "conversations": (_CONVERSATIONS_1, _CONVERSATIONS_2),
    "refusals": (_REFUSALS_1,),
    "embeddings": (_EMBEDDINGS_1,),
    "traces": (_traces_1, _TRACES_2),
    "evals": (_EVALS_1,),
    "arena": (_ARENA_1,),
}


def latest(area: str) -> int:
    """The version an area's schema has after every step."""
    return len(STEPS[area])


def _applied(tx: Transaction, area: str) -> int:
    found = tx.value("SELECT max(version) FROM schema_migrations WHERE area = ?", (area,))
    return int(found or 0)


def _table_exists(tx: Transaction) -> bool:
    if tx.dialect == "postgresql":
        return tx.value("SELECT to_regclass('schema_migrations') IS NOT NULL") is True
    return tx.value("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'") == 1


def migrate(db: Database) -> int:
    """Apply the pending steps of `db.area` (none when up to date); return how many ran."""
    target = latest(db.area)
    with db.raw_transaction(write=False) as tx:
        if _table_exists(tx) and _applied(tx, db.area) >= target:
            return 0
    if db.dialect == "postgresql":
        # Its own lock: two areas migrating at once must not both create the table.
        with db.raw_transaction(lock=LOCKS["schema_migrations"]) as tx:
            tx.execute(_SCHEMA_MIGRATIONS)
    with db.raw_transaction(lock=LOCKS[db.area]) as tx:
        tx.execute(_SCHEMA_MIGRATIONS)
        done = _applied(tx, db.area)
        for version, step in enumerate(STEPS[db.area][done:], start=done + 1):
            step(tx)
            tx.execute(
                "INSERT INTO schema_migrations (area, version, applied) VALUES (?, ?, ?)",
                (db.area, version, time.time()),
            )
        return max(0, target - done)
