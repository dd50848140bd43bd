"""An executor that finishes every try at once without running it.

For measuring the scheduler alone (benchmark B4, like Airflow's
``scheduler_dag_execution_timing.py``) and for scheduler tests. It claims and
finishes tries with the queued guard real workers claim with
(:func:`~windvane.core.store.try_queue.finish_unclaimed`, journaled), batched
into one transaction per :meth:`InstantExecutor.events` call. ``outcome`` decides the
final state per workload (default: success); for ``up_for_retry`` it may
return ``(state, retry_after_seconds)``. A try whose row changed before the
batch claimed it (the guard matches nothing) is reported with ``state=None``
and not recorded, as a real worker's failed claim is. No ``running`` event is
reported: a try starts and ends in the same instant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from windvane.core.executors.base import Executor
from windvane.core.model.clock import Clock
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.task_instances import finish_unclaimed
from windvane.core.store.try_queue import UnclaimedFinish

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
        finishes = [
            UnclaimedFinish(
                w, TaskInstanceState(state), None if when is None else datetime.fromtimestamp(when, UTC)
            )
            for w, state, when in zip(batch, states, retry_at, strict=True)
        ]
        with self.engine.begin() as conn:
            finished = finish_unclaimed(conn, finishes, at)
        for w, state, when in zip(batch, states, retry_at, strict=True):
            if w.ti_id not in finished:
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
