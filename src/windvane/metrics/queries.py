"""Counting the SQL statements an engine runs, and the time they take.

:class:`QueryCounter` listens to SQLAlchemy's ``before_cursor_execute`` /
``after_cursor_execute`` events on the engine it is given; the scheduler's
:class:`~windvane.metrics.subscriber.MetricsObserver` takes the totals once
per pass. Cost: two small callbacks per statement. An ``executemany`` batch is
one statement.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Engine, event

_STARTS = "windvane_metrics_query_starts"


class QueryCounter:
    """Statements run on ``engine`` (any thread) and seconds spent in them, since the last :meth:`take`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._count = 0
        self._seconds = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_: Any) -> None:
        conn.info.setdefault(_STARTS, []).append(time.perf_counter())

    def _after(self, conn: Any, *_: Any) -> None:
        starts = conn.info.get(_STARTS)
        elapsed = time.perf_counter() - starts.pop() if starts else 0.0
        with self._lock:
            self._count += 1
            self._seconds += elapsed

    def take(self) -> tuple[int, float]:
        """(statements, seconds) since the previous call; resets both."""
        with self._lock:
            taken = (self._count, self._seconds)
            self._count, self._seconds = 0, 0.0
        return taken

    def detach(self) -> None:
        """Stop listening (idempotent)."""
        for name, fn in (("before_cursor_execute", self._before), ("after_cursor_execute", self._after)):
            if event.contains(self.engine, name, fn):
                event.remove(self.engine, name, fn)
