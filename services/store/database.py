"""One small interface over both engines: `transaction()` yields something with `execute` and `executemany`.

SQL is written once, in SQLite style (`?` positional, `:name` named); the PostgreSQL engine translates it. What
differs in DDL or functions is spelled per dialect by the caller (`Database.dialect`). Driver errors become a
StoreError naming `where` (a file path, or the URL without its password).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from services.store import migrations
from services.store.location import Location, location_from_env, parse_location

SQLITE_SUFFIX = ".sqlite"
Args = Sequence[Any] | Mapping[str, Any]


class StoreError(Exception):
    """A store could not be opened, read or written; `where` names the file or database (never a password)."""

    def __init__(self, message: str, *, where: str, opening: bool = False) -> None:
        super().__init__(message)
        self.where = where
        self.opening = opening


class Cursor(Protocol):
    """What `execute` returns on both engines."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Transaction:
    """The statements of one transaction; SQL in SQLite style whatever the engine."""

    def __init__(self, cursor: Any, dialect: str, translate: Any = None) -> None:
        self._cursor_source = cursor
        self.dialect = dialect
        self._translate = translate

    def _sql(self, sql: str) -> str:
        return self._translate(sql) if self._translate is not None else sql

    def execute(self, sql: str, args: Args = ()) -> Cursor:
        """Run one statement; the cursor has rowcount, fetchone and fetchall."""
        cursor = self._cursor_source()
        cursor.execute(self._sql(sql), args)
        return cursor

    def executemany(self, sql: str, rows: Sequence[Args]) -> Cursor:
        """Run one statement for each row of arguments."""
        cursor = self._cursor_source()
        cursor.executemany(self._sql(sql), rows)
        return cursor

    def rows(self, sql: str, args: Args = ()) -> list[dict[str, Any]]:
        """Every row of a query as a dict by column name."""
        cursor = self.execute(sql, args)
        names = [column[0] for column in cursor.description]  # type: ignore[attr-defined]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def value(self, sql: str, args: Args = ()) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = self.execute(sql, args).fetchone()
        return None if row is None else row[0]


class Database:
    """One area's storage on one engine; the schema is brought up to date by the first transaction."""

    dialect: str = ""

    def __init__(self, area: str, where: str) -> None:
        self.area = area
        self.where = where
        self._migrated = False
        self._migrate_lock = threading.Lock()

    def _ensure_migrated(self) -> None:
        if self._migrated:
            return
        with self._migrate_lock:
            if not self._migrated:
                migrations.migrate(self)
                self._migrated = True

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        """One transaction, committed when the block ends (rolled back on an error); `write=False` for reads."""
        self._ensure_migrated()
        with self.raw_transaction(write=write) as tx:
            yield tx

    @contextmanager
    def raw_transaction(self, *, write: bool = True, lock: int | None = None) -> Iterator[Transaction]:
        """A transaction without the schema check (migrations use it); `lock` is an advisory lock id held until
        the end (PostgreSQL; SQLite's BEGIN IMMEDIATE already locks the file for writing)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def close(self) -> None:
        """Release what the database keeps open (a kept SQLite connection)."""


class SQLiteDatabase(Database):
    """A SQLite file in WAL mode; a new connection per transaction unless `keep_connection` (one writer thread)."""

    dialect = "sqlite"

    def __init__(self, path: Path, area: str, *, keep_connection: bool = False, timeout: float = 10.0) -> None:
        super().__init__(area, str(path))
        self.path = path
        self.timeout = timeout
        self.keep_connection = keep_connection
        self._kept: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Transactions are begun explicitly (BEGIN IMMEDIATE for writes): the driver's own would begin deferred.
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            _set_wal(conn, self.timeout)  # several Streamlit sessions or processes may share the file
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a write must not hold up the page
            return conn
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(str(exc), where=self.where, opening=True) from exc

    @contextmanager
    def raw_transaction(self, *, write: bool = True, lock: int | None = None) -> Iterator[Transaction]:
        if not self.keep_connection:
            conn = self._connect()
            try:
                yield from self._run(conn, write)
            finally:
                conn.close()
            return
        with self._lock:
            if self._kept is None:
                self._kept = self._connect()
            try:
                yield from self._run(self._kept, write)
            except StoreError:
                # A broken connection is not kept: the next transaction opens a fresh one.
                self._kept.close()
                self._kept = None
                raise

    def _run(self, conn: sqlite3.Connection, write: bool) -> Iterator[Transaction]:
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise StoreError(str(exc), where=self.where) from exc
        try:
            yield Transaction(conn.cursor, self.dialect)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise StoreError(str(exc), where=self.where) from exc
        except BaseException:
            _rollback(conn)
            raise

    def close(self) -> None:
        with self._lock:
            if self._kept is not None:
                self._kept.close()
                self._kept = None


def _set_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL, retrying while another process does the same: on a new file that switch can fail at once
    with "database is locked" instead of waiting for the busy timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def open_database(
    area: str,
    location: str | Path | Location | None = None,
    *,
    keep_connection: bool = False,
    timeout: float = 10.0,
) -> Database:
    """The database of `area` ("conversations", "refusals", "embeddings", "traces"). `location` None reads
    PLAYGROUND_DATABASE_URL now; a Path (or a plain string) is that SQLite file; a URL string is parsed like the
    variable. SQLite keeps one file per area (`<area>.sqlite`), PostgreSQL one database for all areas."""
    if location is None:
        found = location_from_env()
    elif isinstance(location, Location):
        found = location
    elif isinstance(location, str) and "://" in location:
        found = parse_location(location)
    else:
        return SQLiteDatabase(Path(location), area, keep_connection=keep_connection, timeout=timeout)
    if found.url is not None:
        # psycopg is imported only when PostgreSQL is configured.
        from services.store.postgres import PostgresDatabase

        return PostgresDatabase(found.url, area)
    assert found.directory is not None
    path = found.directory / f"{area}{SQLITE_SUFFIX}"
    return SQLiteDatabase(path, area, keep_connection=keep_connection, timeout=timeout)


def open_reader_and_writer(
    area: str, location: str | Path | Location | Database | None = None, *, timeout: float = 30.0
) -> tuple[Database, Database]:
    """A database to read `area` and one to write it, for stores whose rows arrive from many threads (traces, eval
    cells): the writer keeps its SQLite connection, since opening one per batch costs a WAL checkpoint and an fsync.
    A Database given as `location` (a test's) serves as both."""
    if isinstance(location, Database):
        return location, location
    reader = open_database(area, location, timeout=timeout)
    return reader, open_database(area, location, keep_connection=True, timeout=timeout)
