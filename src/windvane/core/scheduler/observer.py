"""Hooks the scheduler calls so observers (metrics, alerting) can watch it.

Core defines the hooks; ``windvane.metrics`` and ``windvane.alerting`` implement
them. :class:`SafeObserver` wraps observers so that one that raises is logged
and counted and never breaks the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pendulum

if TYPE_CHECKING:
    from windvane.core.model.states import DagRunState
    from windvane.core.model.workload import TaskEvent
    from windvane.core.scheduler.model import ActiveRun, TiRecord

log = logging.getLogger("windvane.scheduler")


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


@dataclass
class LoopStats:
    """What one scheduler pass did.

    ``critical_section``: seconds spent choosing what to queue and committing
    the pass (the part that holds the write transaction). ``heartbeat_at``:
    wall-clock timestamp of the job heartbeat written in this pass, if one was.
    ``executor_*``: the executor's counts at the end of the pass. ``pools``:
    a snapshot of every pool, only taken when an observer sets
    :attr:`SchedulerObserver.wants_pool_usage`.
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

    Hooks run on the scheduler's thread, inside its loop: keep them cheap.
    """

    #: Ask the scheduler for a :class:`PoolUsage` snapshot in every :class:`LoopStats`.
    wants_pool_usage: bool = False

    def loop_finished(self, stats: LoopStats) -> None:
        """After every pass."""

    def run_created(self, run: ActiveRun, due_at: pendulum.DateTime | None, now: pendulum.DateTime) -> None:
        """A run was created (``due_at``: when a scheduled run became due)."""

    def run_finished(self, run: ActiveRun, state: DagRunState, now: pendulum.DateTime) -> None:
        """A run reached its final state."""

    def task_scheduled(self, run: ActiveRun, ti: TiRecord) -> None:
        """A task instance became ready to queue (its dependencies are met)."""

    def task_queued(self, run: ActiveRun, ti: TiRecord) -> None:
        """A try was committed as queued and handed to the executor (``ti.queued_at`` is set)."""

    def task_started(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        """A try was claimed by a worker."""

    def task_finished(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        """A try reached a final (or up_for_retry) state."""

    def task_lost(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        """A try ended without its outcome being recorded: its claim failed or its row was
        changed elsewhere while it ran (Airflow's "killed externally")."""

    def task_zombie(self, run: ActiveRun | None, task_id: str) -> None:
        """A running try stopped heartbeating and was failed (``run`` is None when not loaded here)."""


class SafeObserver(SchedulerObserver):
    """Fans out to observers; an observer that raises is logged and counted, never propagated."""

    def __init__(self, observers: Sequence[SchedulerObserver]) -> None:
        self.observers = list(observers)
        self.failures = 0
        self.wants_pool_usage = any(o.wants_pool_usage for o in self.observers)

    def _each(self, name: str, *args: object) -> None:
        for observer in self.observers:
            try:
                getattr(observer, name)(*args)
            except Exception:
                self.failures += 1
                log.exception("observer %r failed in %s; the scheduler goes on", observer, name)

    def loop_finished(self, stats: LoopStats) -> None:
        self._each("loop_finished", stats)

    def run_created(self, run: ActiveRun, due_at: pendulum.DateTime | None, now: pendulum.DateTime) -> None:
        self._each("run_created", run, due_at, now)

    def run_finished(self, run: ActiveRun, state: DagRunState, now: pendulum.DateTime) -> None:
        self._each("run_finished", run, state, now)

    def task_scheduled(self, run: ActiveRun, ti: TiRecord) -> None:
        self._each("task_scheduled", run, ti)

    def task_queued(self, run: ActiveRun, ti: TiRecord) -> None:
        self._each("task_queued", run, ti)

    def task_started(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        self._each("task_started", run, ti, event)

    def task_finished(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        self._each("task_finished", run, ti, event)

    def task_lost(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        self._each("task_lost", run, ti, event)

    def task_zombie(self, run: ActiveRun | None, task_id: str) -> None:
        self._each("task_zombie", run, task_id)
