"""What users ask of runs, outside the scheduler: trigger, clear, backfill.

Each action is one transaction that leaves rows for the scheduler to pick up
(a queued run); the scheduler notices at its next poll. A clear journals one
``cleared`` row per task instance it reset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pendulum
from sqlalchemy import Connection, case, delete, literal, select, update

from windvane.core.model.run_ids import check_run_id
from windvane.core.model.run_tracker import descendants
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import DagRunState, DagRunType
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.store import dag_runs
from windvane.core.store.journal_sql import TI_RETURNING, JournalBatch, JournalKind
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import dag_run as run_t
from windvane.core.store.tables import task_instance as ti_t
from windvane.core.store.tables import task_reschedule as reschedule_t
from windvane.core.store.task_instances import ensure_task_instances
from windvane.core.store.xcom_sql import delete_xcoms
from windvane.core.timetables.ops import interval_for, iter_intervals
from windvane.errors import NotFoundError, WindvaneError

_BUSY = (S.RUNNING.value, S.QUEUED.value)
_RETURNING = [ti_t.c[name] for name in TI_RETURNING]


def trigger_dag(
    conn: Connection,
    dag: SerializedDag,
    *,
    now: pendulum.DateTime,
    logical_date: pendulum.DateTime | None = None,
    conf: dict[str, Any] | None = None,
    run_id: str | None = None,
    run_type: DagRunType = DagRunType.MANUAL,
) -> tuple[int, str]:
    """Queue a run of ``dag``; returns (row id, run_id). A duplicate run_id is an error naming it."""
    logical = (logical_date or now).in_timezone("UTC")
    if run_type is DagRunType.MANUAL:
        interval = dag.timetable_obj.infer_manual_data_interval(run_after=logical)
    else:
        interval = interval_for(dag.timetable_obj, logical, dag.start)
    run_id = check_run_id(run_id or run_type.run_id(logical.isoformat()))
    if dag_runs.run_exists(conn, dag.dag_id, run_id):
        raise WindvaneError(f"DAG {dag.dag_id!r} already has a run with run_id {run_id!r}")
    pk = dag_runs.insert_run(
        conn,
        dag=dag,
        run_id=run_id,
        run_type=run_type.value,
        logical_date=logical,
        interval_start=interval.start,
        interval_end=interval.end,
        state=DagRunState.QUEUED,
        conf=conf or {},
        now=now,
        job_id=None,
    )
    ensure_task_instances(conn, pk, run_id, dag, now)
    return pk, run_id


@dataclass(frozen=True)
class BackfillPlan:
    created: list[int]
    rerun: list[int]
    skipped_existing: list[str]

    @property
    def run_pks(self) -> list[int]:
        return self.created + self.rerun


def create_backfill(
    conn: Connection,
    dag: SerializedDag,
    *,
    start: pendulum.DateTime,
    end: pendulum.DateTime,
    now: pendulum.DateTime,
    rerun_failed: bool = False,
) -> BackfillPlan:
    """Queue a backfill run for every interval with logical date in [start, end].

    Intervals that already have a run are left alone, except failed runs with
    ``rerun_failed`` (their failed and upstream_failed tasks are cleared).
    """
    created: list[int] = []
    rerun: list[int] = []
    skipped: list[str] = []
    journal = JournalBatch(now)
    existing = {
        utc_iso(r.logical_date): r
        for r in conn.execute(
            select(run_t.c.id, run_t.c.logical_date, run_t.c.state, run_t.c.run_id).where(
                run_t.c.dag_id == dag.dag_id
            )
        )
    }
    for interval in iter_intervals(dag.timetable_obj, start=start, end=end):
        found = existing.get(utc_iso(interval.start))
        if found is not None:
            if rerun_failed and found.state == DagRunState.FAILED.value:
                clear_task_instances(
                    conn, dag, found.id, states=[S.FAILED, S.UPSTREAM_FAILED], now=now, journal=journal
                )
                rerun.append(found.id)
            else:
                skipped.append(found.run_id)
            continue
        run_id = DagRunType.BACKFILL.run_id(interval.start.isoformat())
        pk = dag_runs.insert_run(
            conn,
            dag=dag,
            run_id=run_id,
            run_type=DagRunType.BACKFILL.value,
            logical_date=interval.start,
            interval_start=interval.start,
            interval_end=interval.end,
            state=DagRunState.QUEUED,
            conf={},
            now=now,
            job_id=None,
        )
        ensure_task_instances(conn, pk, run_id, dag, now)
        created.append(pk)
    journal.write(dbapi_tx(conn))
    return BackfillPlan(created, rerun, skipped)


def _unless_passed(column: Any, now: pendulum.DateTime) -> Any:
    """``column`` (a due time), or NULL once it has passed at ``now``."""
    return case((column <= literal(now.in_timezone("UTC"), type_=column.type), None), else_=column)


def utc_iso(value: Any) -> str:
    converted = dag_runs.utc(value)
    assert converted is not None
    return converted.isoformat()


def clear_task_instances(
    conn: Connection,
    dag: SerializedDag,
    run_pk: int,
    *,
    task_ids: Iterable[str] | None = None,
    downstream: bool = False,
    states: Sequence[S] | None = None,
    now: pendulum.DateTime,
    journal: JournalBatch | None = None,
) -> list[str]:
    """Reset tasks of one run so they run again; the run goes back to queued.

    As in Airflow the cleared tasks get their retries again
    (``max_tries = try_number + retries``) and their XComs are removed. A
    cleared task whose SLA due time (or a run whose deadline) already passed
    loses it: it was decided at that time, and a re-run is not late.
    Running and queued tasks are left alone; a cleared sensor's reschedules are forgotten. Returns
    the cleared task ids.
    Their journal rows go to ``journal`` for the caller to write last in the
    transaction (when clearing several runs), else they are written here.
    """
    rows = conn.execute(
        select(ti_t.c.id, ti_t.c.task_id, ti_t.c.state, ti_t.c.try_number).where(ti_t.c.dag_run_id == run_pk)
    ).all()
    if not rows:
        raise NotFoundError(f"run {run_pk} of DAG {dag.dag_id!r} has no task instances")
    wanted = set(task_ids) if task_ids is not None else {r.task_id for r in rows}
    unknown = wanted - set(dag.tasks)
    if unknown:
        raise NotFoundError(f"DAG {dag.dag_id!r} has no task(s) {sorted(unknown)}")
    if downstream:
        down = {t: list(spec.downstream) for t, spec in dag.tasks.items()}
        wanted |= set(descendants(down, wanted))
    allowed = {s.value for s in states} if states else None
    batch = journal if journal is not None else JournalBatch(now)
    cleared = []
    cleared_ids = []
    for r in rows:
        if r.task_id not in wanted or r.state in _BUSY:
            continue
        if allowed is not None and r.state not in allowed:
            continue
        spec = dag.tasks.get(r.task_id)
        retries = spec.retries if spec else 0
        changed = conn.execute(
            update(ti_t)
            .where(ti_t.c.id == r.id, ti_t.c.state.notin_(_BUSY))
            .values(
                state=S.NONE.value,
                max_tries=r.try_number + retries,
                end_date=None,
                start_date=None,
                next_retry_at=None,
                error=None,
                updated_at=now,
                sla_due_at=_unless_passed(ti_t.c.sla_due_at, now),
            )
            .returning(*_RETURNING)
        ).all()
        if changed:  # not when it started meanwhile
            batch.add_tis(changed, kind=JournalKind.CLEARED)
            cleared.append(r.task_id)
            cleared_ids.append(r.id)
    if cleared:
        # A cleared sensor's timeout counts afresh (Airflow deletes its TaskReschedule rows too).
        conn.execute(delete(reschedule_t).where(reschedule_t.c.ti_id.in_(cleared_ids)))
        delete_xcoms(dbapi_tx(conn), run_pk, cleared)
        dag_runs.requeue_run(conn, run_pk)
        conn.execute(
            update(run_t)
            .where(run_t.c.id == run_pk)
            .values(deadline_at=_unless_passed(run_t.c.deadline_at, now))
        )
    if journal is None:
        batch.write(dbapi_tx(conn))
    return sorted(cleared)
