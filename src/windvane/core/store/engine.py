"""Engines for the metadata database: one SQLite file, or PostgreSQL through psycopg 3.

:func:`create_db_engine` is the only place an :class:`~sqlalchemy.engine.Engine`
is made. Settings (URL, pool size) are passed in; nothing here reads the
environment.

Transactions on SQLite
    Python's ``sqlite3`` module (before 3.12) emits ``BEGIN`` only before DML,
    so SELECTs are not repeatable and SAVEPOINTs escape the transaction. The
    engine takes over, as SQLAlchemy documents: the driver's own BEGIN is off
    and the engine emits its own. By default that is ``BEGIN IMMEDIATE``: a
    transaction takes SQLite's single write lock when it starts, waiting for
    it up to ``busy_timeout``. A deferred transaction that reads and then
    writes fails at once with "database is locked" when another writer got
    there first; an immediate one never does, so every ``engine.begin()`` and
    :func:`begin_write` is safe under concurrent writers.

    Pure readers should use :func:`begin_read`: a deferred ``BEGIN`` that
    never takes the write lock and, in WAL mode, never waits for writers.

On PostgreSQL both helpers are plain ``engine.begin()`` transactions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from windvane.core.store.raw import POSTGRES_OPTIONS, prepare_sqlite
from windvane.core.store.raw import SQLITE_BUSY_TIMEOUT_MS as SQLITE_BUSY_TIMEOUT_MS
from windvane.errors import StoreError

SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite"})
POSTGRES_DRIVERS = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
POSTGRES_DRIVER = "postgresql+psycopg"
#: Execution option naming how a SQLite transaction begins ("IMMEDIATE" or "DEFERRED").
SQLITE_BEGIN_OPTION = "windvane_sqlite_begin"

_MASK = "***"
_NETLOC_PASSWORD = re.compile(r"^(?P<head>[^:/?#]+://[^:/?#@]*):[^/?#]*@")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&#]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` query) replaced by ``***``.

    Safe on any string, including URLs SQLAlchemy cannot parse.
    """
    masked = _NETLOC_PASSWORD.sub(lambda m: f"{m['head']}:{_MASK}@", url, count=1)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['head']}{_MASK}", masked)


def normalize_url(url: str) -> URL:
    """Parse ``url`` and pick Windvane's driver: pysqlite, or psycopg 3 for PostgreSQL.

    ``postgres://`` and ``postgresql://`` become ``postgresql+psycopg://``.
    Raises :class:`StoreError` (password masked) for any other scheme.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"cannot parse database URL {mask_url(url)!r}: {exc}") from None
    if parsed.drivername in SQLITE_DRIVERS:
        return parsed
    if parsed.drivername in POSTGRES_DRIVERS:
        return parsed.set(drivername=POSTGRES_DRIVER)
    raise StoreError(
        f"unsupported database URL {mask_url(url)!r}: Windvane supports sqlite:///path/to/file.db "
        f"and postgresql+psycopg://user:password@host/dbname"
    )


def create_db_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    pool_recycle: float = -1,
    echo: bool = False,
) -> Engine:
    """An engine for the metadata database at ``url``.

    SQLite: the file's folder is created; each connection runs in WAL mode with
    ``synchronous=NORMAL``, ``busy_timeout=30000`` and ``foreign_keys=ON``
    (:data:`windvane.core.store.raw.SQLITE_PRAGMAS`), and transactions begin
    ``IMMEDIATE`` (see the module docstring).
    PostgreSQL: psycopg 3, sessions in UTC, a pooled connection pinged before use when it sat idle
    in the pool for :data:`PING_AFTER_IDLE_SECONDS` or more (:func:`_install_idle_ping`), pendulum's
    datetimes bound as plain ones (:mod:`~windvane.core.store.pg_datetimes`).
    The pool (``[database]`` settings, passed in by the caller): ``pool_size`` connections kept
    (0: no limit), ``max_overflow`` more opened while all are busy (-1: no limit), ``pool_timeout``
    seconds waited for a free one, ``pool_recycle`` seconds after which one is reopened (-1:
    never). A value out of range is a :class:`StoreError` naming the parameter.
    """
    pool = _pool_options(pool_size, max_overflow, pool_timeout, pool_recycle)
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        _make_sqlite_folder(parsed)
        if not parsed.database or parsed.database == ":memory:" or parsed.query.get("mode") == "memory":
            # An in-memory database: one connection per thread, no overflow to bound or wait for.
            pool = {k: v for k, v in pool.items() if k in ("pool_size", "pool_recycle")}
        engine = create_engine(
            parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **pool
        )
        _install_sqlite_hooks(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if "options" not in parsed.query:
        connect_args["options"] = POSTGRES_OPTIONS
    engine = create_engine(parsed, echo=echo, connect_args=connect_args, **pool)
    _install_idle_ping(engine)
    from windvane.core.store import pg_datetimes  # psycopg's modules: only when PostgreSQL is used

    event.listen(engine, "connect", lambda dbapi_connection, _record: pg_datetimes.install(dbapi_connection))
    return engine


def _pool_options(size: int, overflow: int, timeout: float, recycle: float) -> dict[str, Any]:
    problems = []
    if size < 0:
        problems.append(f"pool_size={size} (0 means no limit; it cannot be negative)")
    if overflow < -1:
        problems.append(f"max_overflow={overflow} (-1 means no limit)")
    if not timeout > 0:
        problems.append(f"pool_timeout={timeout} (seconds, above 0)")
    if recycle != -1 and not recycle > 0:
        problems.append(f"pool_recycle={recycle} (seconds above 0, or -1 for never)")
    if problems:
        raise StoreError("invalid [database] pool settings: " + "; ".join(problems))
    return {"pool_size": size, "max_overflow": overflow, "pool_timeout": timeout, "pool_recycle": recycle}


#: A pooled PostgreSQL connection idle this long (seconds) is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "windvane_idle_since"


def _install_idle_ping(engine: Engine, after: float = PING_AFTER_IDLE_SECONDS) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for connections idle ``after`` seconds or more.

    ``pool_pre_ping`` costs a round trip on every checkout: a scheduler pass checks a connection
    out several times (poll, queueing, heartbeat, the executor's writes), so it paid a ping per
    step. A connection returned a moment ago was alive a moment ago; one that sat in the pool (the
    server restarted, a firewall dropped it) is pinged, and a failed ping makes the pool open a
    fresh connection (``DisconnectionError``), as ``pool_pre_ping`` does. A connection that breaks
    within the window fails its statement instead; SQLAlchemy then invalidates the pool's older
    connections, and the caller's outage handling retries (as for a connection lost mid-use).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
        connection_record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, connection_record: ConnectionPoolEntry, proxy: Any) -> None:
        since = connection_record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < after:
            return  # fresh from connect, or back in the pool a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc
        if not alive:
            raise DisconnectionError("pooled connection failed its ping")


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write: committed on success, rolled back on error.

    On SQLite it begins ``IMMEDIATE`` whatever the connection's options, so two
    writers queue for the lock instead of failing with "database is locked".
    """
    with engine.connect() as conn:
        conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn


@contextmanager
def begin_read(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (rolled back at the end).

    On SQLite it begins ``DEFERRED``: it never takes the write lock, so it
    neither waits for writers nor holds them up. Writing in it may fail with
    "database is locked"; use :func:`begin_write` for that.
    """
    with engine.connect() as conn:
        conn.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
        conn.begin()
        try:
            yield conn
        finally:
            conn.rollback()


def after_fork(engine: Engine) -> None:
    """Call in a forked child before using ``engine``: drops the parent's pooled
    connections without closing them (they still belong to the parent)."""
    engine.dispose(close=False)


def _make_sqlite_folder(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    if url.query.get("mode") == "memory":
        return
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder {str(folder)!r} for the SQLite database: {exc}") from exc


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
        # The settings of :mod:`windvane.core.store.raw`; BEGIN is taken from the sqlite3
        # module and _on_begin emits it instead.
        prepare_sqlite(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        mode = options.get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        if mode not in ("IMMEDIATE", "DEFERRED"):
            raise StoreError(
                f"execution option {SQLITE_BEGIN_OPTION}={mode!r}: use 'IMMEDIATE' or 'DEFERRED'"
            )
        conn.exec_driver_sql(f"BEGIN {mode}")


def ping(engine: Engine) -> str:
    """Connect and run ``SELECT 1``; the server's kind and version (``postgresql 16.4``).

    Raises :class:`StoreError` naming the database (password hidden) and the
    driver's reason when it cannot be reached. Reads nothing of the schema.
    """
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(f"cannot reach the metadata database {where!r}: {reason}") from exc
    version = ".".join(str(part) for part in engine.dialect.server_version_info or ())
    return f"{engine.dialect.name} {version}".strip()
