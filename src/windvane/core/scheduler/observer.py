"""Hooks the scheduler calls so observers (metrics, alerting) can watch it.

Core defines the hooks; ``windvane.metrics`` and ``windvane.alerting`` implement
them. Each hook receives one frozen lifecycle event from
:mod:`windvane.core.model.events` (never the scheduler's own records), plus
:meth:`SchedulerObserver.loop_finished` with the :class:`LoopStats` of every pass.
The four hooks of every task instance also come lean (:data:`LEAN_HOOKS`): an
observer that names one in :attr:`SchedulerObserver.lean_hooks` gets plain values
(immutable ones: the key, states, times as the scheduler holds them) through its
``<hook>_lean`` method instead of the event, which is then not built for it.
:class:`SafeObserver` wraps observers so that one that raises is logged and
counted and never breaks the loop.

May import: the model floor.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from windvane.core.model.callback_runs import CallbackRun
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
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskInstanceKey

log = logging.getLogger("windvane.scheduler")

#: The hooks an observer may take lean (see :attr:`SchedulerObserver.lean_hooks`).
LEAN_HOOKS = frozenset({"try_scheduled", "try_queued", "try_started", "try_finished"})

#: The hooks that carry one run's or one try's event, in the order of a run's life.
RUN_AND_TRY_HOOKS = (
    "run_created",
    "run_finished",
    "try_scheduled",
    "try_queued",
    "try_started",
    "try_finished",
    "try_rescheduled",
    "try_lost",
    "try_zombie",
)


@dataclass(frozen=True, slots=True)
class PoolUsage:
    """One pool at the end of a pass, from one snapshot: ``open + queued + running == capacity``.

    Slots are counted over the task instances this scheduler drives;
    ``starving_tasks`` are ready ones that could not be queued for lack of a slot.
    """

    capacity: int
    queued_slots: int
    running_slots: int
    starving_tasks: int

    @property
    def open_slots(self) -> int:
        return self.capacity - self.queued_slots - self.running_slots


@dataclass(frozen=True, slots=True)
class DagQuarantined:
    """The scheduler stopped scheduling ``dag_id`` (at ``dag_hash``) because ``step`` failed."""

    dag_id: str
    dag_hash: str
    fileloc: str
    step: str
    error: str
    at: datetime


@dataclass
class LoopStats:
    """What one scheduler pass did.

    ``critical_section``: seconds spent choosing what to queue and committing
    the pass (the part that holds the write transaction). ``heartbeat_at``:
    wall-clock timestamp of the job heartbeat written in this pass, if one was.
    ``executor_*``: the executor's counts at the end of the pass. ``pools``:
    a snapshot of every pool, only taken when an observer sets
    :attr:`SchedulerObserver.wants_pool_usage`, and then at most every
    :attr:`SchedulerObserver.pool_usage_every` seconds (None in the passes between).
    """

    duration: float = 0.0
    events: int = 0
    finished: int = 0
    queued: int = 0
    executable: int = 0
    starving: int = 0
    starving_pools: set[str] = field(default_factory=set)
    runs_created: int = 0
    zombies: int = 0
    #: Tries failed because they stayed queued past ``task_queued_timeout``.
    queued_timeouts: int = 0
    ready_waiting: int = 0
    active_runs: int = 0
    critical_section: float = 0.0
    heartbeat_at: float | None = None
    executor_open_slots: int = 0
    executor_queued: int = 0
    executor_running: int = 0
    pools: dict[str, PoolUsage] | None = None


class SchedulerObserver:
    """No-op base: override what you need.

    Hooks run on the scheduler's thread, inside its loop: keep them cheap. The
    scheduler builds an event only when some observer overrides its hook (see
    :meth:`listens_to`), so unused hooks cost nothing.
    """

    #: Ask the scheduler for a :class:`PoolUsage` snapshot in :class:`LoopStats`.
    wants_pool_usage: bool = False
    #: Hooks of :data:`LEAN_HOOKS` this observer takes through ``<hook>_lean`` instead of the typed
    #: event (for an observer that only reads a few numbers: no event is built for it). The
    #: scheduler calls one or the other for each observer, never both (a :class:`SafeObserver`
    #: may take both: each form for the observers of its own that take it).
    lean_hooks: frozenset[str] = frozenset()
    #: Seconds (scheduler's monotonic clock) between two snapshots; 0: every pass. The passes in
    #: between have ``pools`` None.
    pool_usage_every: float = 0.0

    def listens_to(self, hook: str) -> bool:
        """True when this observer overrides ``hook`` (a method name of this class).

        The scheduler asks once, when it is built: a hook nobody listens to then is never called.
        A hook taken lean (:attr:`lean_hooks`) is not listened to in its typed form.
        """
        return hook not in self.lean_hooks and getattr(type(self), hook) is not getattr(
            SchedulerObserver, hook
        )

    def loop_finished(self, stats: LoopStats) -> None:
        """After every pass."""

    def scheduler_stopped(self) -> None:
        """The scheduler shut down: its last pass is over (send what is still buffered)."""

    def run_created(self, event: RunCreated) -> None:
        """The scheduler created a scheduled run."""

    def run_finished(self, event: RunFinished) -> None:
        """A run reached its final state."""

    def try_scheduled(self, event: TryScheduled) -> None:
        """A task instance became ready to queue (its dependencies are met)."""

    def try_queued(self, event: TryQueued) -> None:
        """A try was committed as queued and handed to the executor."""

    def try_started(self, event: TryStarted) -> None:
        """A try was claimed by a worker."""

    def try_finished(self, event: TryFinished) -> None:
        """A try reached a final (or up_for_retry) state."""

    # -- the lean forms (see lean_hooks): the same facts, no event built ------------------------------
    def try_scheduled_lean(self, key: TaskInstanceKey, at: float) -> None:
        """:meth:`try_scheduled`: ``at`` in Unix seconds (the event's ``at`` is it, to the microsecond)."""

    def try_queued_lean(
        self,
        key: TaskInstanceKey,
        queued_at: datetime,
        run_type: str,
        run_started_at: datetime,
        first_of_run: bool,
    ) -> None:
        """:meth:`try_queued`, with the event's fields of the same names."""

    def try_started_lean(self, key: TaskInstanceKey, started_at: float, queued_at: float | None) -> None:
        """:meth:`try_started`: the times in Unix seconds (the event's are these, to the microsecond)."""

    def try_finished_lean(
        self,
        key: TaskInstanceKey,
        state: TaskInstanceState,
        finished_at: float,
        started_at: float | None,
        callbacks: tuple[CallbackRun, ...],
        sensor_pokes: int,
        sensor_timeout: bool,
    ) -> None:
        """:meth:`try_finished`: the times in Unix seconds (the event's are these, to the microsecond)."""

    def try_rescheduled(self, event: TryRescheduled) -> None:
        """A reschedule-mode sensor's try ended ``up_for_reschedule`` (its slot is free until then)."""

    def try_lost(self, event: TryLost) -> None:
        """A try ended without its outcome being recorded: its claim failed or its row was
        changed elsewhere while it ran (Airflow's "killed externally")."""

    def try_zombie(self, event: TryZombie) -> None:
        """A running try stopped heartbeating and was failed or set up for retry."""

    def dag_quarantined(self, event: DagQuarantined) -> None:
        """A DAG's own data made a scheduler step fail: it is left alone until it changes."""

    def database_error(self, process: str) -> None:
        """A transient database error (a dropped connection, a lock, a full disk) that ``process``
        rides out."""

    def worker_database_errors(self, count: int) -> None:
        """``count`` transient database errors the executor's workers rode out since the last pass
        (a LocalExecutor's workers report theirs; see :mod:`windvane.core.worker.db_errors`)."""

    def try_hosts_retired(self, counts: Mapping[str, int]) -> None:
        """The executor's workers retired try hosts since the last pass: how many, by reason
        (:data:`~windvane.core.worker.try_host_loop.RETIREMENT_REASONS`)."""


class SafeObserver(SchedulerObserver):
    """Fans out to observers; an observer that raises is logged and counted, never propagated."""

    def __init__(self, observers: Sequence[SchedulerObserver]) -> None:
        self.observers = list(observers)
        self.failures = 0
        wanting = [o.pool_usage_every for o in self.observers if o.wants_pool_usage]
        self.wants_pool_usage = bool(wanting)
        self.pool_usage_every = min(wanting, default=0.0)
        # A lean hook goes, in each form, to the observers that take that form (an observer that is
        # itself a fan-out may take both, for different observers of its own).
        self.lean_hooks = frozenset().union(*(o.lean_hooks for o in self.observers))
        self._lean = {hook: [o for o in self.observers if hook in o.lean_hooks] for hook in LEAN_HOOKS}
        self._typed = {
            hook: [o for o in self.observers if hook not in o.lean_hooks or o.listens_to(hook)]
            for hook in LEAN_HOOKS
        }

    def listens_to(self, hook: str) -> bool:
        return any(o.listens_to(hook) for o in self.observers)

    def _each(self, name: str, value: object) -> None:
        for observer in self._typed.get(name, self.observers):
            try:
                getattr(observer, name)(value)
            except Exception:
                self.failures += 1
                log.exception("observer %r failed in %s; the scheduler goes on", observer, name)

    def _each_lean(self, name: str, *values: object) -> None:
        for observer in self._lean[name]:
            try:
                getattr(observer, name + "_lean")(*values)
            except Exception:
                self.failures += 1
                log.exception("observer %r failed in %s; the scheduler goes on", observer, name)

    def loop_finished(self, stats: LoopStats) -> None:
        self._each("loop_finished", stats)

    def scheduler_stopped(self) -> None:
        for observer in self.observers:
            try:
                observer.scheduler_stopped()
            except Exception:
                self.failures += 1
                log.exception("observer %r failed in scheduler_stopped", observer)

    def database_error(self, process: str) -> None:
        self._each("database_error", process)

    def worker_database_errors(self, count: int) -> None:
        self._each("worker_database_errors", count)

    def try_hosts_retired(self, counts: Mapping[str, int]) -> None:
        self._each("try_hosts_retired", counts)

    def run_created(self, event: RunCreated) -> None:
        self._each("run_created", event)

    def run_finished(self, event: RunFinished) -> None:
        self._each("run_finished", event)

    def try_scheduled(self, event: TryScheduled) -> None:
        self._each("try_scheduled", event)

    def try_queued(self, event: TryQueued) -> None:
        self._each("try_queued", event)

    def try_started(self, event: TryStarted) -> None:
        self._each("try_started", event)

    def try_finished(self, event: TryFinished) -> None:
        self._each("try_finished", event)

    def try_scheduled_lean(self, key: TaskInstanceKey, at: float) -> None:
        self._each_lean("try_scheduled", key, at)

    def try_queued_lean(
        self,
        key: TaskInstanceKey,
        queued_at: datetime,
        run_type: str,
        run_started_at: datetime,
        first_of_run: bool,
    ) -> None:
        self._each_lean("try_queued", key, queued_at, run_type, run_started_at, first_of_run)

    def try_started_lean(self, key: TaskInstanceKey, started_at: float, queued_at: float | None) -> None:
        self._each_lean("try_started", key, started_at, queued_at)

    def try_finished_lean(
        self,
        key: TaskInstanceKey,
        state: TaskInstanceState,
        finished_at: float,
        started_at: float | None,
        callbacks: tuple[CallbackRun, ...],
        sensor_pokes: int,
        sensor_timeout: bool,
    ) -> None:
        self._each_lean(
            "try_finished", key, state, finished_at, started_at, callbacks, sensor_pokes, sensor_timeout
        )

    def try_rescheduled(self, event: TryRescheduled) -> None:
        self._each("try_rescheduled", event)

    def try_lost(self, event: TryLost) -> None:
        self._each("try_lost", event)

    def try_zombie(self, event: TryZombie) -> None:
        self._each("try_zombie", event)

    def dag_quarantined(self, event: DagQuarantined) -> None:
        self._each("dag_quarantined", event)
