"""The scheduler's SQL: few statements, batched per loop, guarded by state.

Every write is an UPDATE guarded by the state the scheduler believes a row is
in, so a concurrent change (a worker, a CLI clear) is never overwritten.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pendulum
from sqlalchemy import Connection, and_, bindparam, func, insert, literal, select, update

from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.store.tables import dag as dag_t
from windvane.core.store.tables import dag_run as run_t
from windvane.core.store.tables import job as job_t
from windvane.core.store.tables import slot_pool as pool_t
from windvane.core.store.tables import task_instance as ti_t

S = TaskInstanceState
_FINISHED = [s.value for s in (S.SUCCESS, S.FAILED, S.UPSTREAM_FAILED, S.SKIPPED, S.REMOVED)]
CHUNK = 500


def utc(value: datetime | None) -> pendulum.DateTime | None:
    """A DB datetime as aware UTC (SQLite hands back naive UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return pendulum.instance(value, tz="UTC")
    return pendulum.instance(value).in_timezone("UTC")


def chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


# -- DAGs ------------------------------------------------------------------
@dataclass(frozen=True)
class DagRow:
    dag_id: str
    dag_hash: str
    is_paused: bool
    is_active: bool
    next_logical_date: pendulum.DateTime | None
    next_interval_start: pendulum.DateTime | None
    next_interval_end: pendulum.DateTime | None
    next_create_after: pendulum.DateTime | None


def dag_rows(conn: Connection) -> list[DagRow]:
    rows = conn.execute(
        select(
            dag_t.c.dag_id,
            dag_t.c.dag_hash,
            dag_t.c.is_paused,
            dag_t.c.is_active,
            dag_t.c.next_dagrun_logical_date,
            dag_t.c.next_dagrun_data_interval_start,
            dag_t.c.next_dagrun_data_interval_end,
            dag_t.c.next_dagrun_create_after,
        )
    )
    return [
        DagRow(r[0], r[1], bool(r[2]), bool(r[3]), utc(r[4]), utc(r[5]), utc(r[6]), utc(r[7])) for r in rows
    ]


def load_serialized(conn: Connection, dag_ids: Sequence[str]) -> dict[str, SerializedDag]:
    rows = conn.execute(select(dag_t.c.dag_id, dag_t.c.serialized).where(dag_t.c.dag_id.in_(dag_ids)))
    return {r[0]: SerializedDag.from_json(r[1]) for r in rows}


def set_next_dagrun(
    conn: Connection,
    dag_id: str,
    logical_date: datetime | None,
    interval_start: datetime | None,
    interval_end: datetime | None,
    create_after: datetime | None,
) -> None:
    conn.execute(
        update(dag_t)
        .where(dag_t.c.dag_id == dag_id)
        .values(
            next_dagrun_logical_date=logical_date,
            next_dagrun_data_interval_start=interval_start,
            next_dagrun_data_interval_end=interval_end,
            next_dagrun_create_after=create_after,
        )
    )


# -- runs ------------------------------------------------------------------
def run_exists(conn: Connection, dag_id: str, run_id: str) -> bool:
    q = select(run_t.c.id).where(run_t.c.dag_id == dag_id, run_t.c.run_id == run_id)
    return conn.execute(q).first() is not None


def insert_run(
    conn: Connection,
    *,
    dag: SerializedDag,
    run_id: str,
    run_type: str,
    logical_date: datetime,
    interval_start: datetime | None,
    interval_end: datetime | None,
    state: DagRunState,
    conf: dict[str, Any] | None,
    now: datetime,
    job_id: int | None,
) -> int:
    """Insert a run row (no task instances); return its id."""
    result = conn.execute(
        insert(run_t)
        .values(
            dag_id=dag.dag_id,
            run_id=run_id,
            run_type=run_type,
            logical_date=logical_date,
            data_interval_start=interval_start,
            data_interval_end=interval_end,
            state=state.value,
            queued_at=now,
            start_date=now if state is DagRunState.RUNNING else None,
            conf=conf or {},
            dag_hash=dag.dag_hash,
            creating_job_id=job_id,
            external_trigger=run_type != "scheduled",
        )
        .returning(run_t.c.id)
    )
    return int(result.scalar_one())


def ensure_task_instances(
    conn: Connection, run_pk: int, run_id: str, dag: SerializedDag, now: datetime
) -> None:
    """Create missing TIs of ``dag`` for the run, and mark TIs of vanished tasks removed."""
    existing = {
        r[0]: r[1]
        for r in conn.execute(select(ti_t.c.task_id, ti_t.c.state).where(ti_t.c.dag_run_id == run_pk))
    }
    missing = [t for t in dag.tasks.values() if t.task_id not in existing]
    if missing:
        conn.execute(
            insert(ti_t),
            [
                {
                    "dag_run_id": run_pk,
                    "dag_id": dag.dag_id,
                    "run_id": run_id,
                    "task_id": t.task_id,
                    "state": S.NONE.value,
                    "try_number": 0,
                    "max_tries": t.retries,
                    "priority_weight": t.priority_weight,
                    "pool": t.pool,
                    "pool_slots": t.pool_slots,
                    "queue": t.queue,
                    "operator": t.operator,
                    "updated_at": now,
                }
                for t in missing
            ],
        )
    gone = [tid for tid, state in existing.items() if tid not in dag.tasks and state not in _FINISHED]
    if gone:
        conn.execute(
            update(ti_t)
            .where(ti_t.c.dag_run_id == run_pk, ti_t.c.task_id.in_(gone))
            .values(state=S.REMOVED.value, updated_at=now)
        )


@dataclass(frozen=True)
class RunRow:
    id: int
    dag_id: str
    run_id: str
    run_type: str
    state: str
    logical_date: pendulum.DateTime
    data_interval_start: pendulum.DateTime | None
    data_interval_end: pendulum.DateTime | None
    conf: dict[str, Any]
    start_date: pendulum.DateTime | None


def _run_row(r: Any) -> RunRow:
    logical = utc(r.logical_date)
    assert logical is not None
    return RunRow(
        r.id,
        r.dag_id,
        r.run_id,
        r.run_type,
        r.state,
        logical,
        utc(r.data_interval_start),
        utc(r.data_interval_end),
        dict(r.conf or {}),
        utc(r.start_date),
    )


_RUN_COLS = (
    run_t.c.id,
    run_t.c.dag_id,
    run_t.c.run_id,
    run_t.c.run_type,
    run_t.c.state,
    run_t.c.logical_date,
    run_t.c.data_interval_start,
    run_t.c.data_interval_end,
    run_t.c.conf,
    run_t.c.start_date,
)


def runs_in_states(
    conn: Connection, states: Sequence[str], *, run_pks: Sequence[int] | None = None
) -> list[RunRow]:
    q = select(*_RUN_COLS).where(run_t.c.state.in_(states))
    if run_pks is not None:
        q = q.where(run_t.c.id.in_(run_pks))
    return [_run_row(r) for r in conn.execute(q.order_by(run_t.c.logical_date, run_t.c.id))]


def get_runs(conn: Connection, run_pks: Sequence[int]) -> list[RunRow]:
    return [_run_row(r) for r in conn.execute(select(*_RUN_COLS).where(run_t.c.id.in_(run_pks)))]


@dataclass(frozen=True)
class TiRow:
    id: int
    dag_run_id: int
    task_id: str
    state: str
    try_number: int
    max_tries: int
    next_retry_at: pendulum.DateTime | None


def task_instances(conn: Connection, run_pks: Sequence[int]) -> dict[int, list[TiRow]]:
    out: dict[int, list[TiRow]] = defaultdict(list)
    for chunk in chunks(list(run_pks)):
        q = select(
            ti_t.c.id,
            ti_t.c.dag_run_id,
            ti_t.c.task_id,
            ti_t.c.state,
            ti_t.c.try_number,
            ti_t.c.max_tries,
            ti_t.c.next_retry_at,
        ).where(ti_t.c.dag_run_id.in_(chunk))
        for r in conn.execute(q):
            out[r[1]].append(TiRow(r[0], r[1], r[2], r[3], r[4], r[5], utc(r[6])))
    return out


def ti_states(conn: Connection, ti_ids: Sequence[int]) -> dict[int, tuple[str, int]]:
    out: dict[int, tuple[str, int]] = {}
    for chunk in chunks(list(ti_ids)):
        q = select(ti_t.c.id, ti_t.c.state, ti_t.c.try_number).where(ti_t.c.id.in_(chunk))
        out.update({r[0]: (r[1], r[2]) for r in conn.execute(q)})
    return out


def start_run(conn: Connection, run_pk: int, now: datetime) -> bool:
    result = conn.execute(
        update(run_t)
        .where(run_t.c.id == run_pk, run_t.c.state == DagRunState.QUEUED.value)
        .values(
            state=DagRunState.RUNNING.value,
            start_date=func.coalesce(run_t.c.start_date, literal(now, type_=run_t.c.start_date.type)),
            end_date=None,
        )
    )
    return result.rowcount == 1


def finish_run(conn: Connection, run_pk: int, state: DagRunState, now: datetime) -> None:
    conn.execute(
        update(run_t)
        .where(run_t.c.id == run_pk, run_t.c.state == DagRunState.RUNNING.value)
        .values(state=state.value, end_date=now)
    )


def previous_ti_state(conn: Connection, dag_id: str, task_id: str, before: datetime) -> str | None:
    """State of ``task_id`` in the DAG's latest run before ``before`` (None if no such TI)."""
    q = (
        select(ti_t.c.state)
        .join(run_t, run_t.c.id == ti_t.c.dag_run_id)
        .where(run_t.c.dag_id == dag_id, run_t.c.logical_date < before, ti_t.c.task_id == task_id)
        .order_by(run_t.c.logical_date.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return None if row is None else str(row[0])


# -- task instances ---------------------------------------------------------
def set_states(conn: Connection, changes: dict[str, list[int]], now: datetime) -> None:
    """Write scheduler-decided states (scheduled, skipped, upstream_failed, ...), grouped by state."""
    for state, ids in changes.items():
        finished = state in _FINISHED
        for chunk in chunks(ids):
            values: dict[str, Any] = {"state": state, "updated_at": now}
            if finished:
                values["end_date"] = now
            if state == S.SCHEDULED.value:
                values["scheduled_dttm"] = now
            conn.execute(
                update(ti_t)
                .where(ti_t.c.id.in_(chunk), ti_t.c.state.notin_([*_FINISHED, "running"]))
                .values(**values)
            )


def mark_queued(conn: Connection, ti_ids: Sequence[int], job_id: int, now: datetime) -> int:
    """Queue tries: bump try_number and stamp the queuing job. Returns rows changed."""
    changed = 0
    for chunk in chunks(list(ti_ids)):
        result = conn.execute(
            update(ti_t)
            .where(
                ti_t.c.id.in_(chunk),
                ti_t.c.state.in_([S.NONE.value, S.SCHEDULED.value, S.UP_FOR_RETRY.value]),
            )
            .values(
                state=S.QUEUED.value,
                try_number=ti_t.c.try_number + 1,
                queued_dttm=now,
                queued_by_job_id=job_id,
                updated_at=now,
                next_retry_at=None,
                error=None,
            )
        )
        changed += result.rowcount
    return changed


def fail_tries(
    conn: Connection, rows: Sequence[tuple[int, int, str, datetime | None]], error: str, now: datetime
) -> None:
    """Finish running tries the scheduler gave up on: (ti_id, try_number, new_state, next_retry_at)."""
    if not rows:
        return
    stmt = (
        update(ti_t)
        .where(
            and_(
                ti_t.c.id == bindparam("b_id"),
                ti_t.c.try_number == bindparam("b_try"),
                ti_t.c.state == S.RUNNING.value,
            )
        )
        .values(
            state=bindparam("b_state"),
            next_retry_at=bindparam("b_retry"),
            end_date=now,
            updated_at=now,
            error=error,
        )
    )
    conn.execute(stmt, [{"b_id": i, "b_try": t, "b_state": s, "b_retry": r} for i, t, s, r in rows])


def skip_unfinished(conn: Connection, run_pk: int, now: datetime) -> None:
    conn.execute(
        update(ti_t)
        .where(ti_t.c.dag_run_id == run_pk, ti_t.c.state.notin_(_FINISHED))
        .values(state=S.SKIPPED.value, end_date=now, updated_at=now)
    )


def reset_orphaned(conn: Connection, live_job_ids: Sequence[int], now: datetime) -> int:
    """Queued tries of dead jobs go back to scheduled (their try never started: undo the bump)."""
    q = update(ti_t).where(ti_t.c.state == S.QUEUED.value)
    if live_job_ids:
        q = q.where(ti_t.c.queued_by_job_id.notin_(live_job_ids))
    result = conn.execute(
        q.values(
            state=S.SCHEDULED.value, try_number=ti_t.c.try_number - 1, queued_by_job_id=None, updated_at=now
        )
    )
    return result.rowcount


@dataclass(frozen=True)
class Zombie:
    ti_id: int
    dag_run_id: int
    task_id: str
    try_number: int
    max_tries: int


def zombies(conn: Connection, cutoff: datetime) -> list[Zombie]:
    q = select(ti_t.c.id, ti_t.c.dag_run_id, ti_t.c.task_id, ti_t.c.try_number, ti_t.c.max_tries).where(
        ti_t.c.state == S.RUNNING.value, ti_t.c.last_heartbeat_at < cutoff
    )
    return [Zombie(*r) for r in conn.execute(q)]


def occupancy_rows(conn: Connection) -> list[tuple[str, str, str, int, int]]:
    """(dag_id, task_id, pool, slots, count) over queued + running TIs."""
    q = (
        select(ti_t.c.dag_id, ti_t.c.task_id, ti_t.c.pool, func.sum(ti_t.c.pool_slots), func.count())
        .where(ti_t.c.state.in_([S.QUEUED.value, S.RUNNING.value]))
        .group_by(ti_t.c.dag_id, ti_t.c.task_id, ti_t.c.pool)
    )
    return [(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in conn.execute(q)]


def pool_capacities(conn: Connection) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in conn.execute(select(pool_t.c.pool, pool_t.c.slots))}


# -- jobs ------------------------------------------------------------------
def live_jobs(conn: Connection, job_type: str, cutoff: datetime) -> list[tuple[int, str | None, int | None]]:
    q = select(job_t.c.id, job_t.c.hostname, job_t.c.pid).where(
        job_t.c.job_type == job_type, job_t.c.state == "running", job_t.c.latest_heartbeat >= cutoff
    )
    return [(r[0], r[1], r[2]) for r in conn.execute(q)]
