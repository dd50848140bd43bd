"""Telling the observer what happened, as frozen lifecycle events built from the scheduler's records.

An event is built only when some observer overrides its hook
(:meth:`SchedulerObserver.listens_to`): the scheduler's hot path pays nothing
for hooks nobody listens to. Observers that take a hook lean
(:attr:`SchedulerObserver.lean_hooks`) get its plain values instead, and no
event is built for them (the metrics observer: 4 events and 3-4 datetimes
per task instance it would only turn back into floats).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from windvane.core.model.clock import Clock, SystemClock
from windvane.core.model.events import (
    RunCreated,
    RunFinished,
    TryFinished,
    TryLost,
    TryQueued,
    TryRescheduled,
    TryScheduled,
    TryStarted,
    TryZombie,
)
from windvane.core.model.serialized_dag import TaskSpec
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskEvent, TaskInstanceKey
from windvane.core.scheduler.model import ActiveRun, TiRecord
from windvane.core.scheduler.observer import SchedulerObserver


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _at_or_none(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class Announcer:
    """Builds lifecycle events from the scheduler's records and hands them to ``observer``."""

    def __init__(self, observer: SchedulerObserver, clock: Clock) -> None:
        self.observer = observer
        listens = observer.listens_to
        self._created = listens("run_created")
        self._finished_run = listens("run_finished")
        self._scheduled = listens("try_scheduled")
        self._queued = listens("try_queued")
        self._started = listens("try_started")
        self._finished = listens("try_finished")
        self._lost = listens("try_lost")
        self._rescheduled = listens("try_rescheduled")
        self._zombie = listens("try_zombie")
        self._now: Callable[[], datetime] = _utc_now if isinstance(clock, SystemClock) else clock.now
        lean = observer.lean_hooks
        self._scheduled_lean = "try_scheduled" in lean
        self._queued_lean = "try_queued" in lean
        self._started_lean = "try_started" in lean
        self._finished_lean = "try_finished" in lean
        self._now_ts: Callable[[], float] = (
            time.time if isinstance(clock, SystemClock) else lambda: clock.now().timestamp()
        )

    def run_created(self, run: ActiveRun, due_at: datetime | None, now: datetime) -> None:
        if self._created:
            self.observer.run_created(
                RunCreated(run.dag_id, run.run_id, run.id, run.run_type, run.logical_date, now, due_at)
            )

    def run_finished(self, run: ActiveRun, state: DagRunState, now: datetime) -> None:
        if self._finished_run:
            timeout_at = run.timeout_at
            timed_out = state is DagRunState.FAILED and timeout_at is not None and now >= timeout_at
            self.observer.run_finished(
                RunFinished(
                    run.dag_id,
                    run.run_id,
                    run.id,
                    run.run_type,
                    run.logical_date,
                    state,
                    run.start_date,
                    now,
                    timed_out,
                )
            )

    def try_scheduled(self, run: ActiveRun, ti: TiRecord) -> None:
        if self._scheduled_lean:
            self.observer.try_scheduled_lean(ti.key, self._now_ts())
        if self._scheduled:
            spec = run.dag.tasks[ti.task_id]
            self.observer.try_scheduled(
                TryScheduled(ti.key, ti.try_number + 1, ti.max_tries, spec.pool, spec.operator, self._now())
            )

    def try_queued(self, run: ActiveRun, ti: TiRecord, now: datetime, *, first_of_run: bool) -> None:
        if self._queued_lean:
            self.observer.try_queued_lean(ti.key, now, run.run_type, run.start_date, first_of_run)
        if self._queued:
            spec = run.dag.tasks[ti.task_id]
            self.observer.try_queued(
                TryQueued(
                    ti.key,
                    ti.try_number,
                    ti.max_tries,
                    spec.pool,
                    spec.operator,
                    spec.queue,
                    now,
                    run.run_type,
                    run.start_date,
                    first_of_run,
                )
            )

    def try_started(self, run: ActiveRun, ti: TiRecord) -> None:
        if self._started_lean:
            self.observer.try_started_lean(ti.key, ti.started_at or 0.0, ti.queued_at)
        if self._started:
            spec = run.dag.tasks[ti.task_id]
            self.observer.try_started(
                TryStarted(
                    ti.key,
                    ti.try_number,
                    ti.max_tries,
                    spec.pool,
                    spec.operator,
                    _at(ti.started_at or 0.0),
                    _at_or_none(ti.queued_at),
                )
            )

    def try_finished(self, run: ActiveRun, ti: TiRecord, event: TaskEvent, state: S) -> None:
        if self._finished_lean:
            self.observer.try_finished_lean(
                ti.key,
                state,
                event.at,
                ti.started_at,
                event.callbacks,
                event.sensor_pokes,
                event.sensor_timeout,
            )
        if self._finished:
            spec = run.dag.tasks[ti.task_id]
            self.observer.try_finished(
                TryFinished(
                    ti.key,
                    event.try_number,
                    ti.max_tries,
                    spec.pool,
                    spec.operator,
                    state,
                    _at(event.at),
                    _at_or_none(ti.started_at),
                    event.error,
                    _at_or_none(event.next_retry_at),
                    event.callbacks,
                    event.sensor_pokes,
                    event.sensor_timeout,
                )
            )

    def try_rescheduled(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        if self._rescheduled:
            spec = run.dag.tasks[ti.task_id]
            self.observer.try_rescheduled(
                TryRescheduled(
                    ti.key,
                    event.try_number,
                    ti.max_tries,
                    spec.pool,
                    spec.operator,
                    _at(event.at),
                    _at_or_none(event.next_retry_at),
                    event.sensor_pokes,
                )
            )

    def try_lost(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        if self._lost:
            spec = run.dag.tasks[ti.task_id]
            self.observer.try_lost(
                TryLost(
                    ti.key,
                    event.try_number,
                    ti.max_tries,
                    spec.pool,
                    spec.operator,
                    _at(event.at),
                    _at_or_none(ti.started_at),
                    event.error,
                )
            )

    def try_zombie(
        self,
        key: TaskInstanceKey,
        spec: TaskSpec | None,
        *,
        try_number: int,
        max_tries: int,
        state: S,
        now: datetime,
        error: str,
        next_retry_at: datetime | None,
    ) -> None:
        if self._zombie:
            self.observer.try_zombie(
                TryZombie(
                    key,
                    try_number,
                    max_tries,
                    spec.pool if spec is not None else None,
                    spec.operator if spec is not None else None,
                    state,
                    now,
                    error,
                    next_retry_at,
                )
            )
