"""The scheduler's in-memory view of the runs it drives."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pendulum

from windvane.core.model.run_tracker import RunTracker
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey


@dataclass(slots=True)
class TiRecord:
    """A task instance as the scheduler tracks it: its key, and its state and try as they move."""

    key: TaskInstanceKey
    state: S
    try_number: int
    max_tries: int
    next_retry_at: float | None = None
    queued_at: float | None = None

    @property
    def ti_id(self) -> int:
        return self.key.ti_id

    @property
    def task_id(self) -> str:
        return self.key.task_id


@dataclass
class ActiveRun:
    """One running DAG run: its row, its DAG structure and the readiness tracker."""

    id: int
    dag_id: str
    run_id: str
    run_type: str
    logical_date: pendulum.DateTime
    data_interval_start: pendulum.DateTime | None
    data_interval_end: pendulum.DateTime | None
    conf: dict[str, Any]
    start_date: pendulum.DateTime
    dag: SerializedDag
    tracker: RunTracker
    tis: dict[str, TiRecord] = field(default_factory=dict)
    by_id: dict[int, TiRecord] = field(default_factory=dict)
    state: DagRunState = DagRunState.RUNNING

    @cached_property
    def timeout_at(self) -> pendulum.DateTime | None:
        if self.dag.dagrun_timeout is None:
            return None
        return self.start_date.add(microseconds=int(self.dag.dagrun_timeout * 1_000_000))

    def sort_key(self, task_id: str, ti_id: int) -> tuple[int, float, int]:
        return (-self.dag.tasks[task_id].priority_weight, self.logical_date.timestamp(), ti_id)


@dataclass
class DagEntry:
    """A DAG row as last seen, with its parsed serialized form."""

    dag_id: str
    dag_hash: str
    is_paused: bool
    is_active: bool
    dag: SerializedDag
    next_logical_date: pendulum.DateTime | None = None
    next_interval_start: pendulum.DateTime | None = None
    next_interval_end: pendulum.DateTime | None = None
    next_create_after: pendulum.DateTime | None = None
