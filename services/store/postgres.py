"""The PostgreSQL engine: psycopg 3 with one small connection pool per URL per process, opened on first use.

SQL arrives in SQLite style and is translated here: `?` -> `%s`, `:name` -> `%(name)s`, a literal `%` doubled.
"""

from __future__ import annotations

import atexit
import functools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from services.store.database import Database, StoreError, Transaction
from services.store.location import redact_url, url_password

POOL_MAX_SIZE = 4
# How long a page waits for a pooled connection, and a first connection for the server, before saying why.
POOL_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5

_pools: dict[str, ConnectionPool] = {}
_pools_lock = threading.Lock()
# A string literal, a `::` cast, `?`, `:name` or `%`, in the order they must be told apart.
_TOKENS = re.compile(r"'(?:[^']|'')*'|::|\?|:([A-Za-z_][A-Za-z0-9_]*)|%")


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQLite-style placeholders as psycopg's (`?` -> `%s`, `:name` -> `%(name)s`, `%` -> `%%`)."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("'"):
            return token.replace("%", "%%")
        if token == "::":
            return token
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return f"%({match.group(1)})s"

    return _TOKENS.sub(replace, sql)


def _masked(url: str, exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    password = url_password(url)
    return text.replace(password, "***") if password else text


def _pool(url: str) -> ConnectionPool:
    with _pools_lock:
        pool = _pools.get(url)
        if pool is not None:
            return pool
        try:
            # One direct connection first: a server that cannot be reached says why now, not as a pool timeout.
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            raise StoreError(_masked(url, exc), where=redact_url(url), opening=True) from None
        pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX_SIZE,
            timeout=POOL_TIMEOUT_S,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
            name=f"playground-{len(_pools)}",
            open=True,
        )
        _pools[url] = pool
        return pool


def close_pool(url: str) -> None:
    """Close this process's pool for `url` (a later transaction opens a new one)."""
    with _pools_lock:
        pool = _pools.pop(url, None)
    if pool is not None:
        pool.close()


@atexit.register
def close_pools() -> None:
    """Close every pool of this process."""
    for url in list(_pools):
        close_pool(url)


class PostgresDatabase(Database):
    """One area of a PostgreSQL database reached through the process's pool for its URL."""

    dialect = "postgresql"

    def __init__(self, url: str, area: str) -> None:
        super().__init__(area, redact_url(url))
        self._url = url

    @contextmanager
    def raw_transaction(self, *, write: bool = True, lock: int | None = None) -> Iterator[Transaction]:
        pool = _pool(self._url)
        try:
            with pool.connection() as conn, conn.transaction():
                if lock is not None:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                yield Transaction(conn.cursor, self.dialect, translate)
        except psycopg.Error as exc:
            raise StoreError(_masked(self._url, exc), where=self.where) from None
