"""The plain-SQL statements of :mod:`windvane.core.store.raw_sql` on a SQLAlchemy ``Connection``.

Workers run the shared statements (try lifecycle, XComs, journal) on a
:class:`~windvane.core.store.raw.RawDb`; holders of an engine run the very
same :class:`~windvane.core.store.raw_sql.Sql` here, so each statement's text
exists once:

* :func:`dbapi_tx` — on the DBAPI connection under ``conn``, inside the
  transaction ``conn`` began (the usual way: no SQLAlchemy work per statement;
  an engine given a counter by :func:`count_raw_statements` reports these
  statements to it, as SQLAlchemy's events would have);
* :func:`run_sql` — through SQLAlchemy itself, for a statement that must keep
  its events and error handling (the scheduler's autocommit queue write, whose
  reconnect relies on SQLAlchemy noticing a broken connection).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, text

from windvane.core.store.counted_tx import CountedTx, StatementCounter
from windvane.core.store.raw_sql import Sql, Tx, bind

#: The engine execution option holding the :class:`StatementCounter` of :func:`dbapi_tx`'s statements.
COUNTER_OPTION = "windvane_statement_counter"


def dbapi_tx(conn: Connection) -> Tx:
    """The shared statements inside ``conn``'s transaction."""
    counter = conn.get_execution_options().get(COUNTER_OPTION)
    if counter is None:
        return Tx(conn.connection.dbapi_connection, conn.dialect.name)
    return CountedTx(conn.connection.dbapi_connection, conn.dialect.name, counter)


def count_raw_statements(engine: Engine, counter: StatementCounter | None) -> None:
    """Report the statements :func:`dbapi_tx` runs on connections ``engine`` opens from now on to
    ``counter`` (None: stop). An execution option, so a connection carries it without a lookup."""
    engine.update_execution_options(**{COUNTER_OPTION: counter})


def run_sql(conn: Connection, sql: Sql, params: Mapping[str, Any]) -> int:
    """Run ``sql`` through SQLAlchemy on ``conn``; how many rows it changed."""
    dialect = conn.dialect.name
    return conn.execute(_clause(sql.named(dialect)), bind(params, dialect)).rowcount


@lru_cache(maxsize=1024)
def _clause(sql_text: str) -> TextClause:
    return text(sql_text)
