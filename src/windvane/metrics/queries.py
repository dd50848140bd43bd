"""Counting the SQL statements an engine runs, and the time they take.

:class:`QueryCounter` listens to SQLAlchemy's dialect events ``do_execute``,
``do_execute_no_params`` and ``do_executemany`` on the engine it is given: the
one callback a statement gets times the dialect's own method (which it calls
itself, so a dialect's override still runs) and counts it. The scheduler's
:class:`~windvane.metrics.subscriber.MetricsObserver` takes the totals once
per pass. An ``executemany`` batch is one statement (an ``insertmanyvalues``
batch one per round trip, as before).

Why not ``before_cursor_execute`` / ``after_cursor_execute``: two callbacks
per statement, each through SQLAlchemy's event wrappers, plus a per-connection
stack of start times, cost about 7 µs of CPU a statement; one dialect callback
costs about 1.5 µs. An error raised inside the callback is SQLAlchemy's to
handle as usual (the callback is inside its try block): the failed statement
is not counted.

Statements run on the raw DBAPI connection under a SQLAlchemy ``Connection``
(:func:`~windvane.core.store.sql_bridge.dbapi_tx`: the scheduler's journal
rows, queued-timeouts, finishes of unclaimed tries...) fire no SQLAlchemy
event; the counter is given to the engine as an execution option
(:func:`~windvane.core.store.sql_bridge.count_raw_statements`), and those
statements report themselves to :meth:`QueryCounter.add` at the same cost.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Engine, event

from windvane.core.store.sql_bridge import COUNTER_OPTION, count_raw_statements


class QueryCounter:
    """Statements run on ``engine`` (any thread) and seconds spent in them, since the last :meth:`take`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect
        self._lock = threading.Lock()
        self._count = 0
        self._seconds = 0.0
        for name, fn in self._listeners():
            event.listen(engine, name, fn)
        count_raw_statements(engine, self)

    def _listeners(self) -> tuple[tuple[str, Any], ...]:
        return (
            ("do_execute", self._execute),
            ("do_execute_no_params", self._execute_no_params),
            ("do_executemany", self._executemany),
        )

    def _count_one(self, elapsed: float) -> None:
        with self._lock:
            self._count += 1
            self._seconds += elapsed

    def add(self, statements: int, seconds: float) -> None:
        """Count ``statements`` run outside SQLAlchemy's events in ``seconds``."""
        with self._lock:
            self._count += statements
            self._seconds += seconds

    # Each returns True: "executed", so SQLAlchemy does not run the statement again.
    def _execute(self, cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        started = time.perf_counter()
        self._dialect.do_execute(cursor, statement, parameters, context)
        self._count_one(time.perf_counter() - started)
        return True

    def _execute_no_params(self, cursor: Any, statement: str, context: Any) -> bool:
        started = time.perf_counter()
        self._dialect.do_execute_no_params(cursor, statement, context)
        self._count_one(time.perf_counter() - started)
        return True

    def _executemany(self, cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        started = time.perf_counter()
        self._dialect.do_executemany(cursor, statement, parameters, context)
        self._count_one(time.perf_counter() - started)
        return True

    def take(self) -> tuple[int, float]:
        """(statements, seconds) since the previous call; resets both."""
        with self._lock:
            taken = (self._count, self._seconds)
            self._count, self._seconds = 0, 0.0
        return taken

    def detach(self) -> None:
        """Stop listening (idempotent)."""
        if self.engine.get_execution_options().get(COUNTER_OPTION) is self:
            count_raw_statements(self.engine, None)
        for name, fn in self._listeners():
            if event.contains(self.engine, name, fn):
                event.remove(self.engine, name, fn)
