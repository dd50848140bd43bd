"""What crosses between the scheduler, executors and workers: keys, workloads, events.

:class:`TaskInstanceKey` is the one identity of a task instance: its row id, its
run's row id and its names. Every record that speaks of a task instance (a
:class:`Workload`, a :class:`TaskEvent`, the scheduler's records, lifecycle
events, journal entries) carries one, and reads the names from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from windvane.core.model.callback_runs import CallbackRun


@dataclass(frozen=True, slots=True)
class TaskInstanceKey:
    """Which task instance: the ``task_instance`` row and the names users know it by."""

    ti_id: int
    dag_run_id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    def __str__(self) -> str:
        mapped = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{mapped} in run {self.run_id}"


class _Keyed:
    """Read-only name accessors for records that carry a ``key``."""

    __slots__ = ()
    key: TaskInstanceKey

    @property
    def ti_id(self) -> int:
        return self.key.ti_id

    @property
    def dag_run_id(self) -> int:
        return self.key.dag_run_id

    @property
    def dag_id(self) -> str:
        return self.key.dag_id

    @property
    def run_id(self) -> str:
        return self.key.run_id

    @property
    def task_id(self) -> str:
        return self.key.task_id

    @property
    def map_index(self) -> int:
        return self.key.map_index


@dataclass(frozen=True, slots=True)
class Workload(_Keyed):
    """One try of one task instance, with everything a worker needs to run it."""

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    job_id: int
    fileloc: str
    run_type: str
    logical_date: str
    data_interval_start: str | None
    data_interval_end: str | None
    conf: dict[str, Any] = field(default_factory=dict)
    queue: str = "default"
    pool: str = "default_pool"
    priority_weight: int = 1
    execution_timeout: float | None = None
    log_path: str = ""


@dataclass(frozen=True, slots=True)
class TaskEvent(_Keyed):
    """Something that happened to a try: it started, or it reached a final state.

    ``state`` is ``running`` for a start; otherwise one of ``success``,
    ``failed``, ``up_for_retry``, ``skipped``, ``up_for_reschedule`` (``next_retry_at`` is then
    the reschedule date) — already written to the DB by the
    worker. ``skipped_task_ids`` are downstream tasks the try skipped
    (branching), also already written. ``state=None`` means the claim failed
    and the try did not run (or its outcome could not be recorded). ``callbacks``: the task
    callbacks the try ran in its own process and how each went (counted by the metrics).
    """

    key: TaskInstanceKey
    try_number: int
    state: str | None
    skipped_task_ids: tuple[str, ...] = ()
    at: float = 0.0
    error: str | None = None
    next_retry_at: float | None = None
    callbacks: tuple[CallbackRun, ...] = ()
    #: What a sensor did in the try: how many times it poked, and whether it timed out.
    sensor_pokes: int = 0
    sensor_timeout: bool = False
