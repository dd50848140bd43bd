"""An executor that replays a script: each try's fate is decided by the test, in fake time.

:class:`ScriptedExecutor` asks ``script(workload)`` for a :class:`Step` and
writes the task instance row as a worker would, stamping events with the
test's clock, so every duration the scheduler (and the metrics) see is known
in advance. Besides a final state after ``duration`` seconds, a step may
``hold`` a try (never starts), make it a ``zombie`` (starts, then stops
heartbeating) or ``lose`` it (its row is changed elsewhere before the claim).

Tries are claimed under the same guard workers use (``state='queued'``,
``try_number``, ``queued_by_job_id``); a failed claim is reported with
``state=None`` and nothing is written, as the executor contract requires. The
tries queued since the last :meth:`ScriptedExecutor.events` call are written
in one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, update

from windvane.core.executors.base import Executor
from windvane.core.model.clock import Clock
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import task_instance as ti_t

HOLD = "hold"
ZOMBIE = "zombie"
LOST = "lost"
#: The longest :meth:`ScriptedExecutor.wait` sleeps when nothing is queued.
MAX_WAIT_SECONDS = 0.05
_RUNNING = TaskInstanceState.RUNNING.value
_QUEUED = TaskInstanceState.QUEUED.value
_LOST_ERROR = "the task instance was changed elsewhere before the try was claimed; it did not run"


@dataclass(frozen=True)
class Step:
    """What :class:`ScriptedExecutor` does with one try.

    ``state`` is the final state reached ``duration`` seconds after the try
    starts (``success``, ``failed``, ``up_for_retry``, ``skipped``), or one of
    :data:`HOLD` (never starts), :data:`ZOMBIE` (starts, its heartbeat is a
    day old, it never ends) and :data:`LOST` (its row is set to ``failed`` by
    "someone else", so the claim fails). ``error`` and ``retry_after`` (seconds
    until ``next_retry_at``) go with the final state.
    """

    state: str = "success"
    duration: float = 1.0
    error: str | None = None
    retry_after: float | None = None


Script = Callable[[Workload], Step]


class ScriptedExecutor(Executor):
    """Plays ``script`` for every queued try at the next :meth:`events` call (see the module doc).

    A try starts ``start_delay`` seconds after the clock's ``now()`` at that
    call. ``held``, ``started`` (zombies, still running) and ``finished`` list
    the workloads by what became of them.
    """

    name = "scripted"

    def __init__(
        self,
        parallelism: int,
        *,
        engine: Engine,
        clock: Clock,
        script: Script | None = None,
        start_delay: float = 0.0,
    ) -> None:
        super().__init__(parallelism)
        self.engine, self.clock = engine, clock
        self.script: Script = script or (lambda _w: Step())
        self.start_delay = start_delay
        self._queued: list[Workload] = []
        self._woken = threading.Event()
        self.held: list[Workload] = []
        self.started: list[Workload] = []
        self.finished: list[Workload] = []

    def start(self) -> None:
        pass

    def queue(self, workload: Workload) -> None:
        self._queued.append(workload)

    def wait(self, timeout: float) -> None:
        if not self._queued and timeout > 0:
            self._woken.wait(min(timeout, MAX_WAIT_SECONDS))
        self._woken.clear()

    def wake(self) -> None:
        self._woken.set()

    def end(self, *, graceful: bool = True) -> None:
        """Drop queued and held tries (they stay queued in the database) and forget zombies."""
        self._queued.clear()
        self.held.clear()
        self.started.clear()

    @property
    def queued_count(self) -> int:
        return len(self._queued) + len(self.held)

    @property
    def running_count(self) -> int:
        return len(self.started)

    def events(self) -> list[TaskEvent]:
        """Play every try queued since the last call, writing their rows in one transaction."""
        batch, self._queued = self._queued, []
        if not batch:
            return []
        at = self.clock.now().timestamp() + self.start_delay
        out: list[TaskEvent] = []
        with begin_write(self.engine) as conn:
            for w in batch:
                out += self._play(conn, w, self.script(w), at)
        return out

    def _play(self, conn: Connection, w: Workload, step: Step, at: float) -> list[TaskEvent]:
        if step.state == HOLD:
            self.held.append(w)
            return []
        if step.state == LOST:
            _write(conn, w, guarded=False, state=TaskInstanceState.FAILED.value)
            return [_event(w, None, at, error=_LOST_ERROR)]
        if step.state == ZOMBIE:
            stale = self.clock.now() - timedelta(days=1)
            if not _write(conn, w, state=_RUNNING, start_date=_dt(at), last_heartbeat_at=stale):
                return [_event(w, None, at, error=_LOST_ERROR)]
            self.started.append(w)
            return [_event(w, _RUNNING, at)]
        end = at + step.duration
        retry_at = None if step.retry_after is None else end + step.retry_after
        written = _write(
            conn,
            w,
            state=step.state,
            start_date=_dt(at),
            end_date=_dt(end),
            duration=step.duration,
            error=step.error,
            next_retry_at=None if retry_at is None else _dt(retry_at),
        )
        if not written:
            return [_event(w, None, at, error=_LOST_ERROR)]
        self.finished.append(w)
        return [_event(w, _RUNNING, at), _event(w, step.state, end, error=step.error, retry_at=retry_at)]


def _write(conn: Connection, w: Workload, *, guarded: bool = True, **values: object) -> bool:
    """Update the try's row; with ``guarded`` only while it is still queued for this try."""
    where = [ti_t.c.id == w.ti_id, ti_t.c.try_number == w.try_number]
    if guarded:
        where += [ti_t.c.state == _QUEUED, ti_t.c.queued_by_job_id == w.job_id]
    return conn.execute(update(ti_t).where(and_(*where)).values(**values)).rowcount == 1


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _event(
    w: Workload, state: str | None, at: float, *, error: str | None = None, retry_at: float | None = None
) -> TaskEvent:
    return TaskEvent(
        key=w.key, try_number=w.try_number, state=state, at=at, error=error, next_retry_at=retry_at
    )
