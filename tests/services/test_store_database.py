"""The storage layer itself: choosing the engine from PLAYGROUND_DATABASE_URL, SQL for psycopg, migrations that run
once however many processes start together, and SQLite files made before migrations adopted as they are."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from services.store.conversations import ConversationStore, ConversationStoreError
from services.store.database import SQLiteDatabase, open_database
from services.store.embeddings import EmbeddingCache
from services.store.location import DATABASE_URL_ENV, StoreConfigError, location_from_env, redact_url
from services.store.migrations import STEPS, latest
from services.store.postgres import translate
from services.store.refusals import RefusalStore, RefusalStoreError
from services.store.traces import TraceStore, TraceStoreError
from services.transcript import ChatTurn, Transcript, to_json

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-Sup3rSecret"


def test_sql_is_written_once_and_translated_for_psycopg() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c = ?") == "SELECT a FROM t WHERE b = %s AND c = %s"
    assert translate("VALUES (:trace_id, coalesce(:cost, 0))") == "VALUES (%(trace_id)s, coalesce(%(cost)s, 0))"
    # A literal % is doubled (in a string or not); `?` and `:x` inside a string, and `::` casts, are left alone.
    assert translate("SELECT '50%?:x', 3 % 2, x::text WHERE y LIKE ?") == (
        "SELECT '50%%?:x', 3 %% 2, x::text WHERE y LIKE %s"
    )
    assert translate("SELECT 'it''s ?' , ?") == "SELECT 'it''s ?' , %s"


@pytest.mark.parametrize(
    "value",
    [
        f"mysql://admin:{PASSWORD}@db.example.com/playground",
        f"admin:{PASSWORD}@db.example.com",
        f"postgresql://admin:{PASSWORD}@db.example.com:notaport/playground",
        f"postgresql://admin:{PASSWORD}@/playground",
    ],
)
def test_a_bad_database_url_names_the_variable_and_never_the_password(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, value)
    with pytest.raises(StoreConfigError) as caught:
        location_from_env()
    assert DATABASE_URL_ENV in str(caught.value) and PASSWORD not in str(caught.value)
    # Every store says the same, as its own error.
    for make, error in ((ConversationStore, ConversationStoreError), (RefusalStore, RefusalStoreError)):
        with pytest.raises(error) as caught_store:
            make()
        assert DATABASE_URL_ENV in str(caught_store.value) and PASSWORD not in str(caught_store.value)
    with pytest.raises(TraceStoreError, match=DATABASE_URL_ENV):
        TraceStore()
    # The embedding cache degrades to a miss instead.
    assert EmbeddingCache().get_many("ns", ["a"]) == {} and EmbeddingCache().count() == 0


def test_an_unreachable_postgresql_server_is_named_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv(DATABASE_URL_ENV, f"postgresql://admin:{PASSWORD}@127.0.0.1:{port}/playground")
    store = ConversationStore()
    assert store.where == f"postgresql://admin@127.0.0.1:{port}/playground"
    with pytest.raises(ConversationStoreError, match="cannot be opened") as caught:
        store.load("a" * 22)
    assert f"127.0.0.1:{port}" in str(caught.value) and PASSWORD not in str(caught.value)


def test_the_password_is_removed_from_where_a_database_is() -> None:
    assert redact_url(f"postgresql://app:{PASSWORD}@db:5432/pg?sslmode=require&password={PASSWORD}") == (
        "postgresql://app@db:5432/pg"
    )


def test_the_engine_follows_the_variable_read_when_a_store_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    db = open_database("refusals")
    assert isinstance(db, SQLiteDatabase) and db.path.name == "refusals.sqlite"
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite://{tmp_path}/elsewhere")
    db = open_database("traces")
    assert isinstance(db, SQLiteDatabase) and db.path == tmp_path / "elsewhere" / "traces.sqlite"
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://app@127.0.0.1:1/pg")
    assert open_database("conversations").dialect == "postgresql"


_START_TOGETHER = """
import sys, time
import numpy as np
from services.store.conversations import ConversationStore, new_conversation_id
from services.store.embeddings import EmbeddingCache
from services.store.refusals import RefusalStore
from services.store.traces import TraceStore
from services.transcript import ChatTurn, Transcript, to_json

start_at, worker = float(sys.argv[1]), sys.argv[2]
while time.time() < start_at:  # every process opens its stores at the same moment
    time.sleep(0.001)
ConversationStore().save(new_conversation_id(), to_json(Transcript(messages=[ChatTurn(role="user", content=worker)])))
RefusalStore().record("phi", "https://x", f"param{worker}", "422")
cache = EmbeddingCache()
cache.put_many("ns", [worker], np.ones((1, 4), dtype=np.float32))
assert cache.count() >= 1, "the embedding cache could not be written"
TraceStore().write([{"span_id": worker, "trace_id": worker, "start_ns": time.time_ns(), "end_ns": time.time_ns(),
                     "operation": "chat", "deployment": "a", "status": "ok"}])
"""


def test_migrations_are_applied_once_when_four_processes_start_at_once(database_url: str) -> None:
    start_at = time.time() + 3.0  # after every interpreter has imported what it needs
    workers = [
        subprocess.Popen([sys.executable, "-c", _START_TOGETHER, str(start_at), str(n)], cwd=ROOT) for n in range(4)
    ]
    assert [worker.wait(120) for worker in workers] == [0, 0, 0, 0]
    for area, store_rows in (("conversations", 4), ("refusals", 4), ("embeddings", 4), ("traces", 4)):
        db = open_database(area)
        with db.transaction(write=False) as tx:
            applied = tx.execute(
                "SELECT version FROM schema_migrations WHERE area = ? ORDER BY version", (area,)
            ).fetchall()
            table = {"traces": "spans"}.get(area, area)
            assert tx.value(f"SELECT count(*) FROM {table}") == store_rows
        assert [row[0] for row in applied] == list(range(1, latest(area) + 1)), area
    assert latest("conversations") == len(STEPS["conversations"]) == 2


# The layouts the four SQLite modules created before the storage package (services/*_store.py, embedding_cache.py).
_OLD_CONVERSATIONS = (
    "CREATE TABLE conversations (id TEXT PRIMARY KEY, transcript TEXT NOT NULL, updated REAL NOT NULL) WITHOUT ROWID",
    "CREATE INDEX conversations_updated ON conversations (updated)",
    "CREATE TABLE shares (share_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL UNIQUE, created REAL NOT NULL)"
    " WITHOUT ROWID",
)
_OLD_REFUSALS = (
    "CREATE TABLE refusals (deployment TEXT NOT NULL, endpoint TEXT NOT NULL, model TEXT NOT NULL, param TEXT NOT NULL,"
    " reason TEXT NOT NULL, learned REAL NOT NULL, PRIMARY KEY (deployment, endpoint, model, param)) WITHOUT ROWID",
)
_OLD_EMBEDDINGS = (
    "CREATE TABLE embeddings (namespace TEXT NOT NULL, text_hash TEXT NOT NULL, dims INTEGER NOT NULL,"
    " vector BLOB NOT NULL, created REAL NOT NULL, PRIMARY KEY (namespace, text_hash)) WITHOUT ROWID",
)
_OLD_TRACES = """
CREATE TABLE spans (
    span_id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
    page TEXT, action TEXT, operation TEXT NOT NULL, deployment TEXT NOT NULL, host TEXT, api TEXT, route TEXT,
    request_model TEXT, response_model TEXT, request_id TEXT,
    status TEXT NOT NULL, http_status INTEGER, attempt INTEGER, retry_wait_s REAL,
    input_tokens INTEGER, output_tokens INTEGER, cost REAL, ttft_s REAL, total_s REAL,
    finish_reason TEXT, error_type TEXT, error TEXT, request TEXT, answer TEXT, error_detail TEXT
);
CREATE INDEX spans_trace ON spans (trace_id, start_ns);
CREATE INDEX spans_deployment ON spans (deployment);
CREATE TABLE traces (
    trace_id TEXT PRIMARY KEY, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, page TEXT, action TEXT,
    deployments TEXT NOT NULL, operations TEXT NOT NULL,
    spans INTEGER NOT NULL, errors INTEGER NOT NULL, retries INTEGER NOT NULL, stopped INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost REAL
);
CREATE INDEX traces_start ON traces (start_ns);
CREATE INDEX traces_latency ON traces ((end_ns - start_ns));
CREATE INDEX traces_tokens ON traces ((input_tokens + output_tokens));
CREATE TABLE trace_text (trace_id TEXT PRIMARY KEY, search TEXT NOT NULL);
CREATE TABLE trace_deployments (
    trace_id TEXT NOT NULL, deployment TEXT NOT NULL, calls INTEGER NOT NULL, errors INTEGER NOT NULL,
    retries INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost REAL,
    PRIMARY KEY (trace_id, deployment)
) WITHOUT ROWID;
"""
SAVED_ID = "savedBeforeTheUpgrade_1"


def _old_file(path: Path, statements: tuple[str, ...] | str, *rows: tuple[str, tuple[object, ...]]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        if isinstance(statements, str):
            conn.executescript(statements)
            conn.execute("PRAGMA user_version = 2")
        else:
            for statement in statements:
                conn.execute(statement)
        for sql, args in rows:
            conn.execute(sql, args)
    conn.close()


def test_sqlite_files_made_before_migrations_are_adopted_with_their_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    saved = to_json(Transcript(messages=[ChatTurn(role="user", content="Kept across the upgrade")]))
    vector = np.arange(4, dtype="<f4")
    _old_file(
        tmp_path / "conversations.sqlite",
        _OLD_CONVERSATIONS,
        ("INSERT INTO conversations VALUES (?, ?, ?)", (SAVED_ID, saved, time.time())),
        ("INSERT INTO shares VALUES (?, ?, ?)", ("sharedBeforeTheUpgrade1", SAVED_ID, time.time())),
    )
    _old_file(
        tmp_path / "refusals.sqlite",
        _OLD_REFUSALS,
        ("INSERT INTO refusals VALUES ('phi', 'https://x', '', 'tools', '422', 1.0)", ()),
    )
    from services.store.embeddings import text_hash

    _old_file(
        tmp_path / "embeddings.sqlite",
        _OLD_EMBEDDINGS,
        ("INSERT INTO embeddings VALUES ('ns', ?, 4, ?, 1.0)", (text_hash("old"), vector.tobytes())),
    )
    now = time.time_ns()
    _old_file(
        tmp_path / "traces.sqlite",
        _OLD_TRACES,
        (
            "INSERT INTO spans (span_id, trace_id, start_ns, end_ns, operation, deployment, status)"
            " VALUES ('s0', 't0', ?, ?, 'chat', 'a', 'ok')",
            (now, now + 1),
        ),
        (
            "INSERT INTO traces VALUES ('t0', ?, ?, NULL, NULL, ',a,', ',chat,', 1, 0, 0, 0, 5, 6, NULL)",
            (now, now + 1),
        ),
    )

    store = ConversationStore()
    assert store.load(SAVED_ID) == saved and store.load_shared("sharedBeforeTheUpgrade1") == saved
    [summary] = store.list_for()
    assert (summary.id, summary.title) == (SAVED_ID, "Kept across the upgrade")
    store.save(SAVED_ID, saved)  # sign-in off: the unowned conversation is saved over as before
    assert list(RefusalStore().refusals("phi", "https://x")) == ["tools"]
    assert np.array_equal(EmbeddingCache().get_many("ns", ["old"])[0], vector)
    traces = TraceStore()
    assert [(t["trace_id"], t["input_tokens"], t["owner"]) for t in traces.traces()] == [("t0", 5, None)]
    traces.write([{"span_id": "s1", "trace_id": "t0", "start_ns": now + 2, "end_ns": now + 3, "operation": "chat",
                   "deployment": "b", "status": "ok", "owner": "ann@example.com"}])  # fmt: skip
    assert traces.traces()[0]["deployments"] == ["a", "b"]
    for area in ("conversations", "refusals", "embeddings", "traces"):
        with sqlite3.connect(tmp_path / f"{area}.sqlite") as conn:
            versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations WHERE area = ?", (area,))]
        conn.close()
        assert versions == list(range(1, latest(area) + 1)), area


def test_a_trace_file_of_an_older_layout_is_started_afresh(tmp_path: Path) -> None:
    path = tmp_path / "traces.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE spans (span_id TEXT PRIMARY KEY, old_column TEXT)")
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    store = TraceStore(path)
    assert store.count() == 0 and store.spans("anything") == []
    now = time.time_ns()
    store.write([{"span_id": "s", "trace_id": "t", "start_ns": now, "end_ns": now, "operation": "chat",
                  "deployment": "a", "status": "ok"}])  # fmt: skip
    assert store.count() == 1
