"""A :class:`~windvane.core.store.raw_sql.Tx` that reports each statement it runs to a counter.

Statements run on the raw DBAPI connection under a SQLAlchemy ``Connection``
(:func:`~windvane.core.store.sql_bridge.dbapi_tx`) fire no SQLAlchemy event,
so an engine's statement counter (the scheduler's
``windvane_scheduler_loop_db_queries``) would miss them. :class:`CountedTx`
times and counts them itself, the way the counter's dialect callback does: one
``perf_counter`` pair and one call a statement; a statement that raises is not
counted; an ``executemany`` (one round trip) is one statement.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from windvane.core.store.raw_sql import POSTGRESQL, Row, Sql, Tx


class StatementCounter(Protocol):
    """Where :class:`CountedTx` reports: ``statements`` run in ``seconds`` (any thread)."""

    def add(self, statements: int, seconds: float) -> None: ...


class CountedTx(Tx):
    """A :class:`Tx` whose statements ``counter`` is told of, once each has run."""

    __slots__ = ("_counter",)

    def __init__(self, connection: Any, dialect: str, counter: StatementCounter) -> None:
        super().__init__(connection, dialect)
        self._counter = counter

    def execute(self, sql: Sql, params: Mapping[str, Any] | None = None) -> int:
        started = time.perf_counter()
        count = super().execute(sql, params)
        self._counter.add(1, time.perf_counter() - started)
        return count

    def execute_many(self, sql: Sql, rows: Sequence[Mapping[str, Any]]) -> None:
        started = time.perf_counter()
        super().execute_many(sql, rows)
        self._counter.add(1, time.perf_counter() - started)

    def rows_many(self, sql: Sql, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        if self.dialect != POSTGRESQL or not rows:
            return super().rows_many(sql, rows)  # one :meth:`rows` a set, each counted there
        started = time.perf_counter()
        found = super().rows_many(sql, rows)
        self._counter.add(1, time.perf_counter() - started)
        return found

    def rows(self, sql: Sql, params: Mapping[str, Any] | None = None) -> list[Row]:
        started = time.perf_counter()
        found = super().rows(sql, params)
        self._counter.add(1, time.perf_counter() - started)
        return found

    def rows_together(self, statements: Sequence[tuple[Sql, Mapping[str, Any] | None]]) -> list[list[Row]]:
        started = time.perf_counter()
        found = super().rows_together(statements)
        self._counter.add(len(statements), time.perf_counter() - started)
        return found
