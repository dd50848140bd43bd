"""``SqlHook``: run SQL over a Connection through SQLAlchemy (Airflow's ``DbApiHook`` shape).

The connection's ``conn_type`` picks the SQLAlchemy dialect and driver: ``postgres`` /
``postgresql`` → ``postgresql+psycopg``, ``mysql`` / ``mariadb`` → ``mysql+pymysql`` (the
``windvane[mysql]`` extra), ``sqlite`` → ``sqlite`` (the file is the connection's ``host``, as in
Airflow, else its ``schema``; none: in memory). ``extra`` may set ``sqlalchemy_scheme`` (another
driver, e.g. ``postgresql+psycopg2``) and the driver's connection options listed in
:data:`CONNECT_OPTIONS` (``sslmode``, ``charset``, ...); other extra keys are ignored.

Statements run on the driver's own DB-API cursor, so ``parameters`` use the driver's
placeholders (``%s`` / ``%(name)s`` for psycopg and PyMySQL, ``?`` / ``:name`` for SQLite) and a
``handler`` gets the cursor, as in Airflow. SQLAlchemy is imported only when a hook connects:
importing this module (a DAG file does) stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from windvane.core.authoring.hooks.base import BaseHook
from windvane.core.authoring.hooks.sql_split import split_sql
from windvane.core.model.connection import Connection
from windvane.errors import ConfigError, TaskCommandError

if TYPE_CHECKING:
    from sqlalchemy import URL, Engine

log = logging.getLogger("windvane.task")

#: conn_type → SQLAlchemy drivername.
DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}
#: Extra keys passed to the driver's ``connect`` per dialect (anything else in ``extra`` is ignored).
CONNECT_OPTIONS = {
    "postgresql": frozenset(
        {"sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "application_name", "connect_timeout",
         "options", "client_encoding", "keepalives", "keepalives_idle", "target_session_attrs"}
    ),
    "mysql": frozenset(
        {"charset", "connect_timeout", "ssl", "unix_socket", "local_infile", "init_command", "read_timeout"}
    ),
    "sqlite": frozenset({"timeout"}),
}  # fmt: skip
#: Longest SQL text quoted in an error message.
_QUOTED = 300

Handler = Callable[[Any], Any]


class SqlHook(BaseHook):
    """Run statements on the database of connection ``conn_id``.

    :param conn_id: the connection.
    :param database: a database name that replaces the connection's ``schema`` (Airflow's
        ``database``; for SQLite the file).
    """

    def __init__(self, conn_id: str, *, database: str | None = None) -> None:
        self.conn_id = conn_id
        self.database = database
        self._connection: Connection | None = None
        #: The cursor descriptions of the statements the last :meth:`run` executed (None: no rows).
        self.descriptions: list[Sequence[Any] | None] = []

    @property
    def connection(self) -> Connection:
        """The Connection, read once through the installed secrets backends."""
        if self._connection is None:
            self._connection = self.get_connection(self.conn_id)
        return self._connection

    def _what(self) -> str:
        return f"connection {self.conn_id!r} ({self.connection.conn_type})"

    def sqlalchemy_url(self) -> URL:
        """The SQLAlchemy URL of the connection (see the module doc for the rules)."""
        from sqlalchemy import URL

        conn = self.connection
        kind = (conn.conn_type or "").lower()
        scheme = conn.extra_dejson.get("sqlalchemy_scheme") or DRIVERS.get(kind)
        if not isinstance(scheme, str):
            raise ConfigError(
                f"connection {self.conn_id!r}: conn_type {conn.conn_type!r} is not a SQL database "
                f"Windvane knows ({', '.join(sorted(DRIVERS))}); set extra sqlalchemy_scheme to use another"
            )
        if scheme.startswith("sqlite"):
            return URL.create(scheme, database=self.database or conn.host or conn.schema or None)
        return URL.create(
            scheme,
            username=conn.login,
            password=conn.password,
            host=conn.host,
            port=conn.port,
            database=self.database or conn.schema,
        )

    def connect_args(self) -> dict[str, Any]:
        """The driver options the connection's ``extra`` sets (see :data:`CONNECT_OPTIONS`)."""
        dialect = self.sqlalchemy_url().get_backend_name()
        allowed = CONNECT_OPTIONS.get(dialect, frozenset())
        return {key: value for key, value in self.connection.extra_dejson.items() if key in allowed}

    def get_sqlalchemy_engine(self, **engine_kwargs: Any) -> Engine:
        """A new engine on the connection's database (no pool: a task holds one connection)."""
        from sqlalchemy import create_engine
        from sqlalchemy.exc import NoSuchModuleError
        from sqlalchemy.pool import NullPool

        url = self.sqlalchemy_url()
        try:
            return create_engine(url, poolclass=NullPool, connect_args=self.connect_args(), **engine_kwargs)
        except (ModuleNotFoundError, NoSuchModuleError) as exc:
            extra = " (pip install 'windvane[mysql]')" if url.drivername.endswith("pymysql") else ""
            raise ConfigError(
                f"{self._what()}: the driver {url.drivername!r} is not installed{extra}: {exc}"
            ) from None

    def run(
        self,
        sql: str | Sequence[str],
        autocommit: bool = False,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        handler: Handler | None = None,
        split_statements: bool = False,
        return_last: bool = True,
    ) -> Any:
        """Run ``sql`` (one string, split at ``;`` with ``split_statements``, or a list) in one
        session; Airflow's ``DbApiHook.run``.

        Without ``autocommit`` every statement runs in one transaction, committed after the last
        (a failure rolls all of them back); with it each statement commits on its own (needed
        for ``CREATE DATABASE``, ``VACUUM``...). ``handler(cursor)`` is called after each statement;
        the result is the last statement's handler result when ``sql`` is one string and
        ``return_last`` (or not split), else the list of every statement's; None without a handler.
        A failing statement raises :class:`TaskCommandError` naming the connection and the
        statement (never the password).
        """
        statements = _statements(sql, split_statements)
        if not statements:
            raise TaskCommandError(f"{self._what()}: no SQL statement to run")
        results: list[Any] = []
        self.descriptions = []
        with self._cursor(autocommit) as (raw, cursor_factory):
            for index, statement in enumerate(statements, start=1):
                cursor = cursor_factory()
                try:
                    self._execute(cursor, statement, parameters, index, len(statements))
                    self.descriptions.append(cursor.description)
                    if handler is not None:
                        results.append(handler(cursor))
                finally:
                    cursor.close()
            if not autocommit:
                self._guard(raw.commit, "COMMIT", len(statements), len(statements))
        if handler is None:
            return None
        if isinstance(sql, str) and (return_last or not split_statements):
            return results[-1]
        return results

    def get_records(self, sql: str, parameters: Mapping[str, Any] | Sequence[Any] | None = None) -> list[Any]:
        """Every row ``sql`` returns."""
        from windvane.core.authoring.hooks.sql_rows import fetch_all_handler

        return list(self.run(sql, parameters=parameters, handler=fetch_all_handler) or [])

    def get_first(self, sql: str, parameters: Mapping[str, Any] | Sequence[Any] | None = None) -> Any:
        """The first row ``sql`` returns, or None."""
        from windvane.core.authoring.hooks.sql_rows import fetch_one_handler

        return self.run(sql, parameters=parameters, handler=fetch_one_handler)

    @contextmanager
    def _cursor(self, autocommit: bool) -> Iterator[tuple[Any, Callable[[], Any]]]:
        from sqlalchemy.exc import SQLAlchemyError

        engine = self.get_sqlalchemy_engine()
        try:
            try:
                connection = engine.connect()
            except SQLAlchemyError as exc:
                raise TaskCommandError(
                    self._scrub(f"{self._what()}: cannot connect: {_reason(exc)}")
                ) from None
            with connection:
                if autocommit:
                    connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                raw = connection.connection
                yield raw, raw.cursor
        finally:
            engine.dispose()

    def _execute(self, cursor: Any, statement: str, parameters: Any, index: int, count: int) -> None:
        log.info("Running statement: %s, parameters: %s", statement, parameters)
        if parameters is None:
            self._guard(lambda: cursor.execute(statement), statement, index, count)
        else:
            self._guard(lambda: cursor.execute(statement, parameters), statement, index, count)
        if cursor.rowcount is not None and cursor.rowcount >= 0:
            log.info("Rows affected: %s", cursor.rowcount)

    def _guard(self, call: Callable[[], object], statement: str, index: int, count: int) -> None:
        """Run ``call``; a database error becomes a TaskCommandError naming connection and statement."""
        try:
            call()
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            quoted = statement if len(statement) <= _QUOTED else statement[:_QUOTED] + "..."
            where = f"statement {index} of {count}" if count > 1 else "the statement"
            raise TaskCommandError(
                self._scrub(f"{self._what()}: {where} failed: {_reason(exc)} [SQL: {quoted}]")
            ) from None

    def _scrub(self, message: str) -> str:
        password = self.connection.password
        if password:
            from urllib.parse import quote

            message = message.replace(password, "***").replace(quote(password, safe=""), "***")
        return message


def _statements(sql: str | Sequence[str], split: bool) -> list[str]:
    if isinstance(sql, str):
        return split_sql(sql) if split else ([sql.strip()] if sql.strip() else [])
    return [s for s in (item.strip() for item in sql) if s]


def _is_database_error(exc: Exception) -> bool:
    """A DB-API error of any driver (they all derive from the driver module's ``Error``)."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        return True
    return any(
        klass.__name__ in ("Error", "DatabaseError") and klass.__module__.split(".")[0] in _DRIVER_MODULES
        for klass in type(exc).__mro__
    )


_DRIVER_MODULES = frozenset({"psycopg", "psycopg2", "pymysql", "MySQLdb", "sqlite3", "mysql", "pg8000"})


def _reason(exc: BaseException) -> str:
    """The driver's message, on one line, without SQLAlchemy's background link."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).split("\n(Background on this error")[0]
    return f"{type(orig or exc).__name__}: {' '.join(text.split())}"
