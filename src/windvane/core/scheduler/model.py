"""The scheduler's in-memory records of the runs it drives (mutable; kept inside the scheduler).

Observers never see these: they receive frozen events (:mod:`windvane.core.model.events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pendulum

from windvane.core.model.retries import retry_delay_for
from windvane.core.model.run_tracker import RunTracker
from windvane.core.model.serialized_dag import SerializedDag, TaskSpec
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey

if TYPE_CHECKING:
    from windvane.core.scheduler import db
    from windvane.core.store import dag_runs


@dataclass(slots=True)
class TiRecord:
    """A task instance as the scheduler tracks it: its key, and its state and try as they move."""

    key: TaskInstanceKey
    state: S
    try_number: int
    max_tries: int
    next_retry_at: float | None = None
    queued_at: float | None = None
    #: When the current try's worker reported it started (None until it does).
    started_at: float | None = None
    #: Reschedules of a sensor seen by this scheduler (its turn in the ready queue; not stored).
    reschedules: int = 0

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
    #: Some try of this run has been queued (so the next one queued is not its first).
    tried: bool = False

    @cached_property
    def timeout_at(self) -> pendulum.DateTime | None:
        if self.dag.dagrun_timeout is None:
            return None
        return self.start_date.add(microseconds=int(self.dag.dagrun_timeout * 1_000_000))

    def sort_key(self, task_id: str, ti_id: int, turn: int = 0) -> tuple[int, float, int, int]:
        """Priority first, then logical date; among equals a sensor rescheduled ``turn`` times waits
        behind those rescheduled fewer times (so sensors that poke often cannot starve the rest
        of a pool), then task-instance id."""
        return (-self.dag.tasks[task_id].priority_weight, self.logical_date.timestamp(), turn, ti_id)


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


def build_run(
    row: dag_runs.RunRow,
    dag: SerializedDag,
    tis: Sequence[db.TiRow],
    now: pendulum.DateTime,
    *,
    replacing: ActiveRun | None = None,
) -> ActiveRun:
    """The record of a running run from its rows (task instances of tasks not in ``dag`` left out).

    When it replaces a loaded copy, a queued or running try still on the same try
    keeps when it was queued and started.
    """
    tis = [t for t in tis if t.task_id in dag.tasks]
    run = ActiveRun(
        id=row.id,
        dag_id=row.dag_id,
        run_id=row.run_id,
        run_type=row.run_type,
        logical_date=row.logical_date,
        data_interval_start=row.data_interval_start,
        data_interval_end=row.data_interval_end,
        conf=row.conf,
        start_date=row.start_date or now,
        dag=dag,
        tracker=RunTracker(dag.upstream_map, dag.rules, {t.task_id: S(t.state) for t in tis}),
        tried=any(t.try_number > 0 for t in tis),
    )
    for t in tis:
        rec = TiRecord(
            TaskInstanceKey(t.id, row.id, row.dag_id, row.run_id, t.task_id),
            S(t.state),
            t.try_number,
            t.max_tries,
            t.next_retry_at.timestamp() if t.next_retry_at else None,
        )
        before = replacing.by_id.get(t.id) if replacing is not None else None
        if before is not None and rec.state in (S.QUEUED, S.RUNNING) and before.try_number == rec.try_number:
            rec.queued_at, rec.started_at = before.queued_at, before.started_at
        run.tis[t.task_id] = rec
        run.by_id[t.id] = rec
    return run


def retry_delay(spec: TaskSpec, try_number: int) -> timedelta:
    """How long the task waits after try ``try_number`` failed."""
    return retry_delay_for(
        try_number,
        retry_delay=timedelta(seconds=spec.retry_delay),
        exponential_backoff=spec.retry_exponential_backoff,
        max_retry_delay=None if spec.max_retry_delay is None else timedelta(seconds=spec.max_retry_delay),
    )
