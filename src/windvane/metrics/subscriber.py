"""Turning the scheduler's lifecycle events into catalogue metrics.

:class:`MetricsObserver` is a :class:`~windvane.core.scheduler.observer.SchedulerObserver`;
give it to the scheduler (wrapped in ``SafeObserver`` with any others). It reads
only the frozen events of :mod:`windvane.core.model.events`, and keeps a little
state: when each task instance of a run became ready (until it is queued or
the run ends) and when scheduled runs fell due (until they end).

Latency phases, each its own histogram, all measured on the scheduler's side:

* schedule delay: a scheduled run's ``run_after`` -> the scheduler created it;
* first-task scheduling delay: run due (scheduled) or started (others) -> its first TI queued;
* scheduled duration: TI ready -> queued; queued duration: queued -> its worker started it;
* task duration: worker start -> end (both times reported by the worker).

Tries an executor finishes without a ``running`` event (the instant
executor) count in ``ti.start`` when they finish and have no duration.

The scheduler hands it the four per-task-instance hooks lean
(:data:`~windvane.core.scheduler.observer.LEAN_HOOKS`): plain values, no event
built for it; the typed hooks stay (for direct callers) and give the same metrics.

Cost: with ``batch_seconds`` (what :func:`~windvane.metrics.wiring.build_metrics`
gives it: :data:`BATCH_SECONDS`), the run and try hooks only keep their event;
:meth:`MetricsObserver.loop_finished` turns the kept events into metrics in one
go when :data:`BATCH_EVENTS` wait or the oldest is ``batch_seconds`` old, and
:meth:`MetricsObserver.drain` (the scheduler stopping, the bundle closing) does
it for what is left. Worked through in a row, events cost less CPU than one by
one between the scheduler's own work (in B2 the scheduler's metrics work fell
by about 40 %: ``bench/b_metrics_overhead.py``, docs/benchmarks.md); a metric reaches the
backends at most ``batch_seconds`` plus one pass late, as StatsD lines already
waited up to 0.25 s to be coalesced. An event that fails to turn into metrics
is logged and counted (:attr:`MetricsObserver.failures`) and the rest of the
batch goes on. Without ``batch_seconds`` (tests) every hook emits at once.
The sink is held from the first metric of a pass to the end of
:meth:`MetricsObserver.loop_finished`, then released: StatsD sends the lines of
passes close together as one batch, at most every 0.25 s (see
:mod:`.statsd_sink`); an unchanged gauge is not passed on (see
:mod:`.multi_sink`); the pool snapshot is asked for at most once a second
(:attr:`MetricsObserver.pool_usage_every`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from windvane.core.model.callback_runs import CallbackRun
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
    micros,
)
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey
from windvane.core.scheduler.observer import (
    LEAN_HOOKS,
    RUN_AND_TRY_HOOKS,
    DagQuarantined,
    LoopStats,
    SchedulerObserver,
)
from windvane.metrics import catalogue as m
from windvane.metrics.catalogue_alerting import CALLBACK_DURATION, CALLBACK_FAILURES
from windvane.metrics.loop_metrics import LoopMetrics
from windvane.metrics.queries import QueryCounter
from windvane.metrics.sink import MetricsSink
from windvane.metrics.stale import DagSweeper
from windvane.metrics.task_series import SeriesBook

log = logging.getLogger("windvane.metrics")

_FAILED = {S.FAILED, S.UP_FOR_RETRY}
#: How long run and try events may wait to be turned into metrics (seconds; build_metrics' default).
BATCH_SECONDS = 0.25
#: Events kept at most before a pass turns them into metrics anyway.
BATCH_EVENTS = 256
#: The ``kind`` label of the callback metrics for a task callback hook run in the try's process.
_CALLBACK_KIND = {
    "on_execute_callback": "task_execute",
    "on_success_callback": "task_success",
    "on_failure_callback": "task_failure",
    "on_retry_callback": "task_retry",
    "on_skipped_callback": "task_skipped",
}


def wall_clock(clock: Clock) -> Callable[[], float]:
    """A cheap "now" in Unix seconds on ``clock``."""
    if isinstance(clock, SystemClock):
        return time.time
    return lambda: clock.now().timestamp()


class MetricsObserver(SchedulerObserver):
    """Scheduler metrics into ``sink`` (see the module doc).

    Every time comes from the events (stamped on the scheduler's clock, or the
    worker's for starts and ends), so the observer reads no clock itself.
    """

    wants_pool_usage = True
    lean_hooks = LEAN_HOOKS
    #: Pool gauges are sampled by a 10-15 s scrape or StatsD flush: a snapshot a second is plenty.
    pool_usage_every = 1.0

    def __init__(
        self,
        sink: MetricsSink,
        *,
        executor_name: str,
        queries: QueryCounter | None = None,
        batch_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.executor_name = executor_name
        self.loop = LoopMetrics(sink, executor_name=executor_name, queries=queries)
        #: dag_run_id -> when the scheduled run fell due (Unix seconds).
        self._due: dict[int, float] = {}
        #: dag_run_id -> ti_id -> when the task instance became ready (Unix seconds).
        self._ready_since: dict[int, dict[int, float]] = {}
        self._holding = False
        #: The per-task and per-DAG series, each label set bound once (see :mod:`.task_series`).
        self.series = SeriesBook(sink)
        #: Forgets the series of DAGs that are gone (see :mod:`.stale`); set by ``build_metrics``.
        self.sweeper: DagSweeper | None = None
        self.batch_seconds = batch_seconds
        self._monotonic = monotonic
        #: Run and try events kept for the next batch: (the hook that turns one into metrics, its arguments).
        self._batch: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._batch_since = 0.0
        #: Events that failed to turn into metrics (logged; the rest of their batch went on).
        self.failures = 0
        self._failed_hooks: set[str] = set()
        if batch_seconds > 0:
            # The instance's hooks keep events; the class's turn them into metrics (in drain).
            for name in _BATCHED:
                setattr(self, name, self._keeper(getattr(self, name)))

    def _keeper(self, hook: Callable[..., None]) -> Callable[..., None]:
        batch = self._batch

        def keep(*args: Any) -> None:
            if not batch:
                self._batch_since = self._monotonic()
            batch.append((hook, args))

        return keep

    def drain(self) -> None:
        """Turn every kept event into metrics now (each failure logged and counted)."""
        batch = self._batch
        if not batch:
            return
        events = batch.copy()
        batch.clear()  # the keepers hold this list: cleared, not replaced
        self._hold()
        for hook, args in events:
            try:
                hook(*args)
            except Exception:
                self.failures += 1
                name = getattr(hook, "__name__", "?")
                first = name not in self._failed_hooks
                self._failed_hooks.add(name)
                log.log(
                    logging.ERROR if first else logging.DEBUG,
                    "metrics: %s failed on %r; the other events go on",
                    name,
                    args,
                    exc_info=first,
                )

    def _hold(self) -> None:
        if not self._holding:
            self._holding = True
            self.sink.hold()

    # -- every pass --------------------------------------------------------------------------------
    def loop_finished(self, stats: LoopStats) -> None:
        batch = self._batch
        if batch and (
            len(batch) >= BATCH_EVENTS or self._monotonic() - self._batch_since >= self.batch_seconds
        ):
            self.drain()
        self._hold()
        try:
            self.loop.record(stats)
        finally:
            self._holding = False
            self.sink.release()
        if self.sweeper is not None:
            self.sweeper.maybe_sweep()

    def scheduler_stopped(self) -> None:
        """Turn the kept events into metrics and send what the sink still holds back."""
        try:
            self.drain()
        finally:
            self._holding = False
            self.sink.flush()

    def forget_dags(self, keep: frozenset[str]) -> None:
        """Drop the cached bindings of DAGs not in ``keep`` (their series were forgotten)."""
        self.drain()  # kept events of those DAGs first: they must not bind their series again
        self.series.forget_dags(keep)

    # -- runs --------------------------------------------------------------------------------------
    def run_created(self, event: RunCreated) -> None:
        self._hold()
        self.sink.incr(m.RUNS_CREATED)
        if event.due_at is not None:
            self._due[event.dag_run_id] = event.due_at.timestamp()
            delay = (event.at - event.due_at).total_seconds()
            self.sink.observe(m.SCHEDULE_DELAY, max(0.0, delay), dag_id=event.dag_id)

    def run_finished(self, event: RunFinished) -> None:
        self._hold()
        self.sink.observe(
            m.DAGRUN_DURATION,
            max(0.0, event.duration),
            dag_id=event.dag_id,
            state=event.state.value,
            run_type=event.run_type,
        )
        self._due.pop(event.dag_run_id, None)
        self._ready_since.pop(event.dag_run_id, None)

    # -- task instances ----------------------------------------------------------------------------
    # The scheduler calls the lean forms (lean_hooks: no event is built for this observer); the
    # typed hooks (direct callers) turn an event into the same values, so both give the same
    # metrics. Both forms are kept in batches; they call the _try_* methods, which never are.
    def try_scheduled(self, event: TryScheduled) -> None:
        self._try_scheduled(event.key, event.at.timestamp())

    def try_queued(self, event: TryQueued) -> None:
        self._try_queued(event.key, event.queued_at, event.run_type, event.run_started_at, event.first_of_run)

    def try_started(self, event: TryStarted) -> None:
        queued_at = event.queued_at
        self._try_started(
            event.key, event.started_at.timestamp(), None if queued_at is None else queued_at.timestamp()
        )

    def try_finished(self, event: TryFinished) -> None:
        started_at = event.started_at
        self._try_finished(
            event.key,
            event.state,
            event.finished_at.timestamp(),
            None if started_at is None else started_at.timestamp(),
            event.callbacks,
            event.sensor_pokes,
            event.sensor_timeout,
        )

    # The lean forms (see the aliases below). Times are rounded to the microsecond (micros) as the
    # events' datetimes round them.
    def _try_scheduled(self, key: TaskInstanceKey, at: float) -> None:
        ready = self._ready_since.get(key.dag_run_id)
        if ready is None:
            ready = self._ready_since[key.dag_run_id] = {}
        if key.ti_id not in ready:
            ready[key.ti_id] = micros(at) / 1e6

    def _try_queued(
        self,
        key: TaskInstanceKey,
        queued_at: datetime,
        run_type: str,
        run_started_at: datetime,
        first_of_run: bool,
    ) -> None:
        self._hold()
        queued = queued_at.timestamp()
        ready = self._ready_since.get(key.dag_run_id)
        since = ready.pop(key.ti_id, None) if ready is not None else None
        if since is not None:
            self.series.dag(key.dag_id).scheduled_duration().observe(max(0.0, queued - since))
        if first_of_run:
            # The run's first try ever (not the first since this scheduler started).
            due = self._due.get(key.dag_run_id, run_started_at.timestamp())
            self.sink.observe(
                m.FIRST_TASK_DELAY, max(0.0, queued - due), dag_id=key.dag_id, run_type=run_type
            )

    def _try_started(self, key: TaskInstanceKey, started_at: float, queued_at: float | None) -> None:
        self._hold()
        self.series.task(key.dag_id, key.task_id).start().incr()
        if queued_at is not None:
            waited = (micros(started_at) - micros(queued_at)) / 1e6
            self.series.dag(key.dag_id).queued_duration().observe(max(0.0, waited))

    def _try_finished(
        self,
        key: TaskInstanceKey,
        state: S,
        finished_at: float,
        started_at: float | None,
        callbacks: tuple[CallbackRun, ...],
        sensor_pokes: int,
        sensor_timeout: bool,
    ) -> None:
        self._hold()
        series = self.series.task(key.dag_id, key.task_id)
        if started_at is None:
            series.start().incr()
        else:
            series.duration().observe(max(0.0, (micros(finished_at) - micros(started_at)) / 1e6))
        series.finish(state.value).incr()
        if state is S.SUCCESS:
            series.successes().incr()
        elif state in _FAILED:
            series.failures().incr()
        if sensor_pokes:
            series.sensor_pokes().incr(sensor_pokes)
        if sensor_timeout:
            series.sensor_timeouts().incr()
        for run in callbacks:  # reported by the try's process, which has no sink of its own
            kind = _CALLBACK_KIND.get(run.hook)
            if kind is None:
                continue
            self.sink.observe(CALLBACK_DURATION, run.seconds, kind=kind)
            if not run.ok:
                self.sink.incr(CALLBACK_FAILURES, kind=kind)

    try_scheduled_lean = _try_scheduled
    try_queued_lean = _try_queued
    try_started_lean = _try_started
    try_finished_lean = _try_finished

    def try_rescheduled(self, event: TryRescheduled) -> None:
        self._hold()
        series = self.series.task(event.key.dag_id, event.key.task_id)
        series.sensor_reschedules().incr()
        if event.sensor_pokes:
            series.sensor_pokes().incr(event.sensor_pokes)

    def try_lost(self, event: TryLost) -> None:
        self._hold()
        self.sink.incr(m.KILLED_EXTERNALLY, dag_id=event.key.dag_id, task_id=event.key.task_id)

    def try_zombie(self, event: TryZombie) -> None:
        self._hold()
        self.sink.incr(m.ZOMBIES_KILLED, dag_id=event.key.dag_id, task_id=event.key.task_id)

    def dag_quarantined(self, event: DagQuarantined) -> None:
        self._hold()
        self.sink.incr(m.DAG_QUARANTINED, dag_id=event.dag_id)

    def database_error(self, process: str) -> None:
        self._hold()
        self.sink.incr(m.DB_TRANSIENT_ERRORS)

    def worker_database_errors(self, count: int) -> None:
        self._hold()
        self.sink.incr(m.EXECUTOR_DB_TRANSIENT_ERRORS, count, executor=self.executor_name)

    def try_hosts_retired(self, counts: Mapping[str, int]) -> None:
        self._hold()
        for reason, count in counts.items():
            self.sink.incr(m.TRY_HOST_RETIREMENTS, count, executor=self.executor_name, reason=reason)


#: The hooks whose events wait for a batch (in order: a try's ready time is kept until it is queued).
_BATCHED = RUN_AND_TRY_HOOKS + tuple(f"{hook}_lean" for hook in sorted(LEAN_HOOKS))
