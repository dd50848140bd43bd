"""An executor that finishes every try at once without running it.

For measuring the scheduler alone (benchmark B4, like Airflow's
``scheduler_dag_execution_timing.py``) and for scheduler tests. It claims and
finishes tries with the same guarded updates real workers use, batched into
one transaction per :meth:`InstantExecutor.events` call. ``outcome`` decides the
final state per workload (default: success); for ``up_for_retry`` it may
return ``(state, retry_after_seconds)``. A try whose row changed before the
batch claimed it (the guard matches nothing) is reported with ``state=None``
and not recorded, as a real worker's failed claim is. No ``running`` event is
reported: a try starts and ends in the same instant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, update

from windvane.core.executors.base import Executor
from windvane.core.model.clock import Clock
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.tables import task_instance as ti_t

#: Decides a try's final state: a state, or ``("up_for_retry", retry_after_seconds)``.
Outcome = Callable[[Workload], "str | tuple[str, float]"]
#: The longest :meth:`InstantExecutor.wait` sleeps: queued tries finish in the next
#: :meth:`InstantExecutor.events`, so a caller should come back soon.
MAX_WAIT_SECONDS = 0.05
_LOST = "the task instance was changed elsewhere before the try was claimed; it did not run"


class InstantExecutor(Executor):
    """Finishes queued tries in the database at the next :meth:`events` call (see the module doc).

    ``history`` lists the workloads it finished, in order (not those whose claim failed).
    """

    name = "instant"

    def __init__(
        self, parallelism: int, *, engine: Engine, outcome: Outcome | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(parallelism)
        self.clock = clock
        self.engine = engine
        self.outcome = outcome or (lambda _w: "success")
        self._queued: list[Workload] = []
        self._events: list[TaskEvent] = []
        self._woken = threading.Event()
        self.history: list[Workload] = []

    def start(self) -> None:
        pass

    def queue(self, workload: Workload) -> None:
        self._queued.append(workload)

    def events(self) -> list[TaskEvent]:
        self._finish_queued()
        events, self._events = self._events, []
        return events

    def wait(self, timeout: float) -> None:
        if not self._queued and not self._events and timeout > 0:
            self._woken.wait(min(timeout, MAX_WAIT_SECONDS))
        self._woken.clear()

    def wake(self) -> None:
        self._woken.set()

    @property
    def queued_count(self) -> int:
        return len(self._queued)

    @property
    def running_count(self) -> int:
        return 0

    def end(self, *, graceful: bool = True) -> None:
        self._finish_queued()

    def _finish_queued(self) -> None:
        if not self._queued:
            return
        batch, self._queued = self._queued, []
        now = self.clock.now().timestamp() if self.clock is not None else time.time()
        at = datetime.fromtimestamp(now, UTC)
        decided = [self.outcome(w) for w in batch]
        states = [d if isinstance(d, str) else d[0] for d in decided]
        retry_at = [None if isinstance(d, str) else now + d[1] for d in decided]
        rows = [
            {
                "b_id": w.ti_id,
                "b_try": w.try_number,
                "b_job": w.job_id,
                "b_state": state,
                "b_retry": None if when is None else datetime.fromtimestamp(when, UTC),
            }
            for w, state, when in zip(batch, states, retry_at, strict=True)
        ]
        stmt = (
            update(ti_t)
            .where(
                and_(
                    ti_t.c.id == bindparam("b_id"),
                    ti_t.c.try_number == bindparam("b_try"),
                    ti_t.c.queued_by_job_id == bindparam("b_job"),
                    ti_t.c.state == "queued",
                )
            )
            .values(
                state=bindparam("b_state"),
                next_retry_at=bindparam("b_retry"),
                start_date=at,
                end_date=at,
                duration=0.0,
                updated_at=at,
            )
        )
        with self.engine.connect() as conn:
            claimed = _write_claimed(conn, stmt, rows)
        for w, state, when, ok in zip(batch, states, retry_at, claimed, strict=True):
            if not ok:
                self._events.append(
                    TaskEvent(key=w.key, try_number=w.try_number, state=None, at=now, error=_LOST)
                )
                continue
            self.history.append(w)
            self._events.append(
                TaskEvent(
                    key=w.key,
                    try_number=w.try_number,
                    state=state,
                    at=now,
                    next_retry_at=when,
                )
            )


def _write_claimed(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> list[bool]:
    """Run ``stmt`` for every row in one transaction; which rows its guard matched.

    The batch runs as one statement execution; only when fewer rows matched than
    were given (a claim failed: rare) is it rolled back and redone row by row.
    """
    with conn.begin() as tx:
        if conn.execute(stmt, list(rows)).rowcount == len(rows):
            return [True] * len(rows)
        tx.rollback()
    with conn.begin():
        return [conn.execute(stmt, row).rowcount == 1 for row in rows]
