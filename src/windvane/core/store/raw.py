"""The metadata database without SQLAlchemy: one DBAPI connection per process.

LocalExecutor workers and task processes use this instead of
:mod:`windvane.core.store.engine`: SQLAlchemy adds ~25 MB and ~100 ms to a
process, and building a Core expression costs about as much as running it.
A :class:`RawDb` opens the database :func:`~windvane.core.store.engine.create_db_engine`
would, with the same settings (this module is their single source):

SQLite (standard ``sqlite3``)
    WAL, ``synchronous=NORMAL``, ``busy_timeout``, ``foreign_keys=ON``; the
    driver's own BEGIN is off: writes begin ``IMMEDIATE`` (they queue for the
    write lock instead of failing with "database is locked"), reads ``DEFERRED``.
PostgreSQL (psycopg 3)
    sessions in UTC, in autocommit mode: a single statement is one round trip
    (:meth:`RawDb.write_one`), longer transactions say ``BEGIN`` themselves;
    psycopg prepares statements that run repeatedly.

Statements and values: :mod:`windvane.core.store.raw_sql`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from windvane.core.store.raw_sql import POSTGRESQL, SQLITE, Row, Sql, Tx
from windvane.errors import StoreError

#: Milliseconds a SQLite connection waits for the write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
)
#: libpq ``options`` of every PostgreSQL session (unless the URL sets its own).
POSTGRES_OPTIONS = "-c timezone=UTC"
_SCHEMES = {"sqlite": SQLITE, "sqlite+pysqlite": SQLITE}
_SCHEMES.update(dict.fromkeys(("postgresql", "postgres", "postgresql+psycopg"), POSTGRESQL))
T = TypeVar("T")


def prepare_sqlite(connection: sqlite3.Connection) -> None:
    """Windvane's settings on a new SQLite connection (also used by the SQLAlchemy engine)."""
    connection.isolation_level = None  # BEGIN is ours (see the module doc)
    for pragma in SQLITE_PRAGMAS:
        connection.execute(pragma).close()


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL points: the dialect and what its driver's ``connect`` takes."""

    dialect: str
    #: SQLite: the file (or a ``file:`` URI); PostgreSQL: a libpq URI.
    database: str
    #: SQLite: ``database`` is a URI.
    uri: bool = False
    #: PostgreSQL: libpq ``options`` to add (None when the URL has its own).
    options: str | None = None


def parse_url(url: str) -> Target:
    """Where ``url`` points (the URLs :func:`~windvane.core.store.engine.normalize_url` accepts)."""
    scheme, sep, rest = url.partition("://")
    dialect = _SCHEMES.get(scheme.lower())
    if not sep or dialect is None:
        raise StoreError(
            f"unsupported database URL scheme {scheme!r}: use sqlite:/// or postgresql+psycopg://"
        )
    if dialect == POSTGRESQL:
        query = dict(parse_qsl(urlsplit(url).query))
        options = None if "options" in query else POSTGRES_OPTIONS
        return Target(POSTGRESQL, f"postgresql://{rest}", options=options)
    path, _, query_text = rest.partition("?")
    query = dict(parse_qsl(query_text))
    database = unquote(path[1:]) if path.startswith("/") else unquote(path)
    uri = query.pop("uri", "").lower() in ("true", "1") or database.startswith("file:")
    if query:
        raise StoreError(f"SQLite URL options {sorted(query)} are not supported")
    return Target(SQLITE, database or ":memory:", uri=uri)


class RawDb:
    """A lazily opened connection to the metadata database at ``url``, for one process.

    A PostgreSQL connection found broken (a restarted server) is replaced and
    the work run again, once: a transaction of :meth:`write` if it failed
    before its commit, a :meth:`read` or :meth:`read_one` always, and a
    :meth:`write_one` always too, so its statement must be guarded (change a
    row only in the state it expects, as every statement of a try is: run
    twice, the second finds the row changed and does nothing). Not
    thread-safe; never use an instance inherited across ``fork``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = parse_url(url)
        self.dialect = self.target.dialect
        #: Write transactions committed so far.
        self.commits = 0
        self._conn: Any = None

    def write(self, body: Callable[[Tx], T]) -> T:
        """Run ``body`` in a write transaction: committed if it returns, rolled back if it raises."""
        return self._run(body, write=True, retry_after_commit=False)

    def read(self, body: Callable[[Tx], T]) -> T:
        """Run ``body`` in a read-only transaction (rolled back; on SQLite it never takes the write
        lock)."""
        return self._run(body, write=False, retry_after_commit=True)

    def write_one(self, sql: Sql, params: Mapping[str, Any]) -> list[Row]:
        """Run one (guarded) writing statement as a transaction of its own; the rows it returns
        (``RETURNING``). One round trip on PostgreSQL."""
        return self._run(lambda tx: tx.rows(sql, params), write=True, retry_after_commit=True, single=True)

    def read_one(self, sql: Sql, params: Mapping[str, Any]) -> list[Row]:
        """Run one query on its own; its rows."""
        return self._run(lambda tx: tx.rows(sql, params), write=False, retry_after_commit=True, single=True)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _run(
        self, body: Callable[[Tx], T], *, write: bool, retry_after_commit: bool, single: bool = False
    ) -> T:
        for attempt in (1, 2):
            conn = self._connection()
            committing = False
            try:
                with self._transaction(conn, write=write, single=single) as tx:
                    result = body(tx)
                    committing = write
                if write:
                    self.commits += 1
                return result
            except Exception:
                if self._broken(conn):
                    self.close()
                    if attempt == 1 and (retry_after_commit or not committing):
                        continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _transaction(self, conn: Any, *, write: bool, single: bool) -> Iterator[Tx]:
        if self.dialect == POSTGRESQL:
            if single:  # autocommit: the statement is its own transaction
                yield Tx(conn, self.dialect)
            else:
                with conn.transaction(force_rollback=not write):
                    yield Tx(conn, self.dialect)
            return
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
        try:
            yield Tx(conn, self.dialect)
        except BaseException:
            conn.rollback()
            raise
        if write:
            conn.commit()
        else:
            conn.rollback()

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = _connect(self.target)
        return self._conn

    def _broken(self, conn: Any) -> bool:
        return self.dialect == POSTGRESQL and bool(conn.broken or conn.closed)


def _connect(target: Target) -> Any:
    if target.dialect == SQLITE:
        timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
        connection = sqlite3.connect(target.database, timeout=timeout, uri=target.uri)
        prepare_sqlite(connection)
        return connection
    import psycopg  # only processes that talk to PostgreSQL pay for it

    try:
        if target.options is None:
            return psycopg.connect(target.database, autocommit=True)
        return psycopg.connect(target.database, autocommit=True, options=target.options)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the database: {exc}") from exc
