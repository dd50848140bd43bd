"""The plain-SQL statements of :mod:`windvane.core.store.raw_sql` on a SQLAlchemy ``Connection``.

Workers run the shared statements (try lifecycle, XComs, journal) on a
:class:`~windvane.core.store.raw.RawDb`; holders of an engine run the very
same :class:`~windvane.core.store.raw_sql.Sql` here, so each statement's text
exists once:

* :func:`dbapi_tx` — on the DBAPI connection under ``conn``, inside the
  transaction ``conn`` began (the usual way: no SQLAlchemy work per statement);
* :func:`run_sql` — through SQLAlchemy itself, for a statement that must keep
  its events and error handling (the scheduler's autocommit queue write, whose
  reconnect relies on SQLAlchemy noticing a broken connection).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, TextClause, text

from windvane.core.store.raw_sql import Sql, Tx, bind


def dbapi_tx(conn: Connection) -> Tx:
    """The shared statements inside ``conn``'s transaction."""
    return Tx(conn.connection.dbapi_connection, conn.dialect.name)


def run_sql(conn: Connection, sql: Sql, params: Mapping[str, Any]) -> int:
    """Run ``sql`` through SQLAlchemy on ``conn``; how many rows it changed."""
    dialect = conn.dialect.name
    return conn.execute(_clause(sql.named(dialect)), bind(params, dialect)).rowcount


@lru_cache(maxsize=1024)
def _clause(sql_text: str) -> TextClause:
    return text(sql_text)
