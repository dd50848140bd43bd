"""The query counter counts the statements run on the raw DBAPI connection (``dbapi_tx``) too."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from windvane.core.store.engine import begin_write
from windvane.core.store.raw_sql import Sql
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.metrics.queries import QueryCounter

_ONE = Sql("SELECT 1")
_PROBE = Sql("CREATE TEMPORARY TABLE qc_raw_probe (id INTEGER PRIMARY KEY)")
_INSERT = Sql("INSERT INTO qc_raw_probe (id) VALUES (:id)")
_INSERT_RETURNING = Sql("INSERT INTO qc_raw_probe (id) VALUES (:id) RETURNING id")


def test_statements_on_the_dbapi_connection_are_counted_and_timed(engine: Engine) -> None:
    counter = QueryCounter(engine)
    try:
        with begin_write(engine) as conn:
            tx = dbapi_tx(conn)
            tx.execute(_PROBE)
            counter.take()  # what beginning the transaction ran, and the probe table
            assert tx.first(_ONE) == (1,)
            assert tx.execute(_INSERT, {"id": 1}) == 1
            tx.execute_many(_INSERT, [{"id": 2}, {"id": 3}])
            assert tx.rows_together([(_ONE, None), (_ONE, None)]) == [[(1,)], [(1,)]]
            count, seconds = counter.take()
            assert count == 1 + 1 + 1 + 2 and seconds > 0
            # RETURNING once per set: one pipelined round trip on PostgreSQL, one statement a set on SQLite
            assert sorted(tx.rows_many(_INSERT_RETURNING, [{"id": 4}, {"id": 5}])) == [(4,), (5,)]
            assert counter.take()[0] == (1 if engine.dialect.name == "postgresql" else 2)
            conn.rollback()
    finally:
        counter.detach()


def test_a_failed_raw_statement_is_not_counted_and_a_detached_counter_hears_nothing(engine: Engine) -> None:
    counter = QueryCounter(engine)
    try:
        with begin_write(engine) as conn:
            tx = dbapi_tx(conn)
            counter.take()
            with pytest.raises(Exception, match="no_such_table"):
                tx.rows(Sql("SELECT * FROM no_such_table"))
            assert counter.take() == (0, 0.0)
            conn.rollback()
    finally:
        counter.detach()
    with begin_write(engine) as conn:
        dbapi_tx(conn).rows(_ONE)
    assert counter.take() == (0, 0.0)


def test_detaching_an_older_counter_leaves_the_newer_one_counting(engine: Engine) -> None:
    older, newer = QueryCounter(engine), QueryCounter(engine)
    try:
        older.detach()
        with begin_write(engine) as conn:
            newer.take()
            dbapi_tx(conn).rows(_ONE)
            assert newer.take()[0] == 1
    finally:
        newer.detach()
