"""An executor that finishes every try at once without running it.

For measuring the scheduler alone (benchmark B4, like Airflow's
``scheduler_dag_execution_timing.py``) and for scheduler tests. It claims and
finishes tries with the queued guard real workers claim with
(:func:`~windvane.core.store.try_lifecycle.finish_unclaimed`, journaled), batched
into one transaction per :meth:`InstantExecutor.events` call. ``outcome`` decides the
final state per workload (default: success); for ``up_for_retry`` it may
return ``(state, retry_after_seconds)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from windvane.core.executors.base import Executor
from windvane.core.model.clock import Clock
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.task_instances import finish_unclaimed
from windvane.core.store.try_lifecycle import UnclaimedFinish

Outcome = Callable[[Workload], "str | tuple[str, float]"]


class InstantExecutor(Executor):
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
            time.sleep(min(timeout, 0.05))

    def wake(self) -> None:
        pass

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
        finishes = [
            UnclaimedFinish(
                w, TaskInstanceState(state), None if when is None else datetime.fromtimestamp(when, UTC)
            )
            for w, state, when in zip(batch, states, retry_at, strict=True)
        ]
        with self.engine.begin() as conn:
            finish_unclaimed(conn, finishes, at)
        for w, state, when in zip(batch, states, retry_at, strict=True):
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
