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
    from windvane.core.executors.base import TaskEvent
    from windvane.core.scheduler.model import ActiveRun, TiRecord
    from windvane.core.states import DagRunState

log = logging.getLogger("windvane.scheduler")


@dataclass
class LoopStats:
    """What one scheduler pass did."""

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


class SchedulerObserver:
    """No-op base: override what you need."""

    def loop_finished(self, stats: LoopStats) -> None:
        """After every pass."""

    def run_created(self, run: ActiveRun, due_at: pendulum.DateTime | None, now: pendulum.DateTime) -> None:
        """A run was created (``due_at``: when a scheduled run became due)."""

    def run_finished(self, run: ActiveRun, state: DagRunState, now: pendulum.DateTime) -> None:
        """A run reached its final state."""

    def task_started(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        """A try was claimed by a worker."""

    def task_finished(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        """A try reached a final (or up_for_retry) state."""


class SafeObserver(SchedulerObserver):
    """Fans out to observers; an observer that raises is logged and counted, never propagated."""

    def __init__(self, observers: Sequence[SchedulerObserver]) -> None:
        self.observers = list(observers)
        self.failures = 0

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

    def task_started(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        self._each("task_started", run, ti, event)

    def task_finished(self, run: ActiveRun, ti: TiRecord, event: TaskEvent) -> None:
        self._each("task_finished", run, ti, event)
