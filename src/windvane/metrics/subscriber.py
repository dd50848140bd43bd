"""Turning scheduler hooks into catalogue metrics.

:class:`MetricsObserver` is a :class:`~windvane.core.scheduler.observer.SchedulerObserver`;
give it to the scheduler (wrapped in ``SafeObserver`` with any others). It
keeps a little per-try state (when a task instance became ready, when its try
started) and forgets it when the try or run ends.

Latency phases, each its own histogram, all measured on the scheduler's side:

* schedule delay: a scheduled run's ``run_after`` -> the scheduler created it;
* first-task scheduling delay: run due (scheduled) or started (others) -> its first TI queued;
* scheduled duration: TI ready -> queued; queued duration: queued -> its worker started it;
* task duration: worker start -> end (both times reported by the worker).

Tries an executor finishes without a ``running`` event (the instant
executor) count in ``ti.start`` when they finish and have no duration.

Cost: the sink is held from the first metric of a pass to the end of
:meth:`MetricsObserver.loop_finished`, so StatsD gets one packet per pass; an
unchanged gauge is not passed on (see :mod:`.multi_sink`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pendulum

from windvane.core.model.clock import Clock, SystemClock
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskEvent
from windvane.core.scheduler.model import ActiveRun, TiRecord
from windvane.core.scheduler.observer import LoopStats, SchedulerObserver
from windvane.metrics import catalogue as m
from windvane.metrics.loop_metrics import LoopMetrics
from windvane.metrics.metric import Metric
from windvane.metrics.queries import QueryCounter
from windvane.metrics.sink import Bound, MetricsSink

_FAILED = {S.FAILED.value, S.UP_FOR_RETRY.value}


def wall_clock(clock: Clock) -> Callable[[], float]:
    """A cheap "now" in Unix seconds on ``clock``."""
    if isinstance(clock, SystemClock):
        return time.time
    return lambda: clock.now().timestamp()


class MetricsObserver(SchedulerObserver):
    """Scheduler metrics into ``sink`` (see the module doc). ``clock`` must be the scheduler's."""

    wants_pool_usage = True

    def __init__(
        self,
        sink: MetricsSink,
        *,
        executor_name: str,
        clock: Clock | None = None,
        queries: QueryCounter | None = None,
    ) -> None:
        self.sink = sink
        self.loop = LoopMetrics(sink, executor_name=executor_name, queries=queries)
        self._now = wall_clock(clock or SystemClock())
        self._due: dict[int, float] = {}
        self._first_done: set[int] = set()
        self._ready_since: dict[int, float] = {}
        self._started: dict[int, float] = {}
        self._holding = False
        self._bounds: dict[tuple[str, ...], Bound] = {}

    def _b(self, metric: Metric, **labels: str) -> Bound:
        """``metric`` bound to ``labels``, bound once per label set (per-task metrics are hot too)."""
        key = (metric.name, *labels.values())
        bound = self._bounds.get(key)
        if bound is None:
            bound = self._bounds[key] = self.sink.bind(metric, **labels)
        return bound

    def _hold(self) -> None:
        if not self._holding:
            self._holding = True
            self.sink.hold()

    # -- every pass --------------------------------------------------------------------------------
    def loop_finished(self, stats: LoopStats) -> None:
        self._hold()
        try:
            self.loop.record(stats)
        finally:
            self._holding = False
            self.sink.flush()

    # -- runs --------------------------------------------------------------------------------------
    def run_created(self, run: ActiveRun, due_at: pendulum.DateTime | None, now: pendulum.DateTime) -> None:
        self._hold()
        self.sink.incr(m.RUNS_CREATED)
        if due_at is not None:
            self._due[run.id] = due_at.timestamp()
            self.sink.observe(m.SCHEDULE_DELAY, max(0.0, (now - due_at).total_seconds()), dag_id=run.dag_id)

    def run_finished(self, run: ActiveRun, state: DagRunState, now: pendulum.DateTime) -> None:
        self._hold()
        duration = max(0.0, (now - run.start_date).total_seconds())
        self.sink.observe(
            m.DAGRUN_DURATION, duration, dag_id=run.dag_id, state=state.value, run_type=run.run_type
        )
        self._due.pop(run.id, None)
        self._first_done.discard(run.id)
        for ti in run.tis.values():
            self._ready_since.pop(ti.ti_id, None)
            self._started.pop(ti.ti_id, None)

    # -- task instances ----------------------------------------------------------------------------
    def task_scheduled(self, run: ActiveRun, ti: TiRecord) -> None:
        if ti.ti_id not in self._ready_since:
            self._ready_since[ti.ti_id] = self._now()

    def task_queued(self, run: ActiveRun, ti: TiRecord) -> None:
        self._hold()
        queued_at = ti.queued_at if ti.queued_at is not None else self._now()
        since = self._ready_since.pop(ti.ti_id, None)
        if since is not None:
            self._b(m.TASK_SCHEDULED_DURATION, dag_id=run.dag_id).observe(max(0.0, queued_at - since))
        if run.id not in self._first_done:
            self._first_done.add(run.id)
            # The run's first try ever (not the first since this scheduler started).
            if ti.try_number == 1 and all(t.try_number == 0 for t in run.tis.values() if t is not ti):
                due = self._due.get(run.id, run.start_date.timestamp())
                self.sink.observe(
                    m.FIRST_TASK_DELAY, max(0.0, queued_at - due), dag_id=run.dag_id, run_type=run.run_type
                )

    def task_started(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        self._hold()
        self._b(m.TI_START, dag_id=run.dag_id, task_id=ti.task_id).incr()
        self._started[ti.ti_id] = event.at
        if ti.queued_at is not None:
            self._b(m.TASK_QUEUED_DURATION, dag_id=run.dag_id).observe(max(0.0, event.at - ti.queued_at))

    def task_finished(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        self._hold()
        b, dag_id, task_id = self._b, run.dag_id, ti.task_id
        started = self._started.pop(ti.ti_id, None)
        if started is None:
            b(m.TI_START, dag_id=dag_id, task_id=task_id).incr()
        else:
            b(m.TASK_DURATION, dag_id=dag_id, task_id=task_id).observe(max(0.0, event.at - started))
        state = event.state or ""
        b(m.TI_FINISH, dag_id=dag_id, task_id=task_id, state=state).incr()
        if state == S.SUCCESS.value:
            b(m.TI_SUCCESSES, dag_id=dag_id, task_id=task_id).incr()
        elif state in _FAILED:
            b(m.TI_FAILURES, dag_id=dag_id, task_id=task_id).incr()

    def task_lost(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        self._hold()
        self._started.pop(ti.ti_id, None)
        self.sink.incr(m.KILLED_EXTERNALLY, dag_id=run.dag_id, task_id=ti.task_id)

    def task_zombie(self, run: ActiveRun | None, task_id: str) -> None:
        self._hold()
        if run is not None and task_id in run.tis:
            self._started.pop(run.tis[task_id].ti_id, None)
        self.sink.incr(m.ZOMBIES_KILLED, dag_id=run.dag_id if run is not None else "unknown", task_id=task_id)
