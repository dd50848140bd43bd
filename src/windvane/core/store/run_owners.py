"""Several schedulers on one database: who drives which run, dead schedulers, the queueing lock.

A queued or running run is driven by one scheduler at a time, the job in
``dag_run.scheduled_by_job_id`` (migration 0008). A scheduler claims runs whose
owner is NULL, itself, or a job that is no longer ``running`` (it ended, or
another scheduler found it dead and marked it ``failed``), with
``FOR UPDATE SKIP LOCKED`` so that two schedulers claiming at once never take
the same run. Whether an owner is alive is read from the ``job`` row *inside*
the statement, never from a list read earlier, so a scheduler that has just
started is never mistaken for a dead one.

The queueing critical section (reading how many slots are taken everywhere,
then queueing) is serialized with a PostgreSQL transaction-level advisory
lock (:data:`QUEUE_LOCK_KEY`, taken with the count in
:mod:`windvane.core.store.occupancy_sql`); SQLite has one writer at a time already.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, exists, func, or_, select, text, update

from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.store._time import from_db
from windvane.core.store.jobs import JobState
from windvane.core.store.tables import dag as dag_t
from windvane.core.store.tables import dag_run as run_t
from windvane.core.store.tables import job as job_t
from windvane.core.store.tables import task_instance as ti_t

#: PostgreSQL advisory lock key serializing the schedulers' queueing ("wvqueue" in ASCII).
QUEUE_LOCK_KEY = 0x77767175657565
#: ... and their starting of queued runs under ``max_active_runs`` ("wvstart").
START_LOCK_KEY = 0x77767374617274


def free_for(job_id: int, *, own: bool = True) -> ColumnElement[bool]:
    """The run is ``job_id``'s to drive: nobody owns it, its owner's job is not running, or (with
    ``own``) it is ``job_id``'s already."""
    owner = run_t.c.scheduled_by_job_id
    owner_alive = exists(
        select(job_t.c.id).where(job_t.c.id == owner, job_t.c.state == JobState.RUNNING.value)
    )
    free = or_(owner.is_(None), ~owner_alive)
    return or_(free, owner == job_id) if own else and_(free, owner.is_distinct_from(job_id))


def claim_runs(
    conn: Connection,
    job_id: int,
    *,
    run_types: Collection[str] | None = None,
    run_pks: Collection[int] | None = None,
    limit: int | None = None,
) -> list[int]:
    """Take the running runs free for ``job_id`` (owned by nobody or by a job that is gone, not its
    own); their ids. Rows another scheduler is claiming right now are skipped, not waited for."""
    q = select(run_t.c.id).where(run_t.c.state == DagRunState.RUNNING.value, free_for(job_id, own=False))
    if run_types is not None:
        q = q.where(run_t.c.run_type.in_(list(run_types)))
    if run_pks is not None:
        q = q.where(run_t.c.id.in_(list(run_pks)))
    q = q.order_by(run_t.c.logical_date, run_t.c.id)
    if limit is not None:
        q = q.limit(limit)
    ids = [int(i) for i in conn.execute(q.with_for_update(skip_locked=True)).scalars()]
    if not ids:
        return []
    conn.execute(update(run_t).where(run_t.c.id.in_(ids)).values(scheduled_by_job_id=job_id))
    return ids


def own(conn: Connection, run_pk: int, job_id: int) -> None:
    """Record that ``job_id`` drives run ``run_pk`` (it created or started it)."""
    conn.execute(update(run_t).where(run_t.c.id == run_pk).values(scheduled_by_job_id=job_id))


def lock_dag_for_creation(conn: Connection, dag_id: str) -> tuple[datetime | None, ...] | None:
    """Lock the DAG's row to create its next run (``FOR UPDATE SKIP LOCKED``); the row's
    ``next_dagrun_*`` values as they are now, or None when another scheduler holds it (or it is gone)."""
    q = (
        select(
            dag_t.c.next_dagrun_logical_date,
            dag_t.c.next_dagrun_data_interval_start,
            dag_t.c.next_dagrun_data_interval_end,
            dag_t.c.next_dagrun_create_after,
        )
        .where(dag_t.c.dag_id == dag_id)
        .with_for_update(skip_locked=True)
    )
    row = conn.execute(q).first()
    return None if row is None else tuple(row)


def active_runs_per_dag(conn: Connection, run_types: Collection[str] | None = None) -> dict[str, int]:
    """Running runs per DAG, whoever drives them (``max_active_runs`` counts them all)."""
    q = select(run_t.c.dag_id, func.count()).where(run_t.c.state == DagRunState.RUNNING.value)
    if run_types is not None:
        q = q.where(run_t.c.run_type.in_(list(run_types)))
    return {r[0]: int(r[1]) for r in conn.execute(q.group_by(run_t.c.dag_id))}


def lock(conn: Connection, key: int) -> None:
    """Take the transaction-level advisory lock ``key`` (PostgreSQL; a no-op on SQLite, whose
    writers are serialized already). Held until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# -- dead schedulers ---------------------------------------------------------------------------
def reap_dead(
    conn: Connection,
    job_id: int,
    cutoff: datetime,
    *,
    hostname: str,
    pid_alive: Callable[[int], bool],
    now: datetime,
    job_type: str = "scheduler",
) -> list[int]:
    """Mark ``failed`` the running jobs of ``job_type`` (not ``job_id``) whose heartbeat is older than
    ``cutoff``, or that ran on ``hostname`` under a pid that is gone. The ids this call marked (a job
    two schedulers find dead at once is marked by one of them)."""
    q = select(job_t.c.id, job_t.c.hostname, job_t.c.pid, job_t.c.latest_heartbeat).where(
        job_t.c.job_type == job_type, job_t.c.state == JobState.RUNNING.value, job_t.c.id != job_id
    )
    dead: list[int] = []
    for other, host, pid, beat in conn.execute(q):
        seen = from_db(beat)
        stale = seen is not None and seen < cutoff
        gone = host == hostname and pid is not None and not pid_alive(int(pid))
        if not (stale or gone):
            continue
        marked = conn.execute(
            update(job_t)
            .where(job_t.c.id == other, job_t.c.state == JobState.RUNNING.value)
            .values(state=JobState.FAILED.value, end_date=now)
        )
        if marked.rowcount == 1:
            dead.append(int(other))
    return dead


def reset_queued_of(conn: Connection, job_ids: Sequence[int], now: datetime) -> int:
    """Queued tries of the (dead) jobs ``job_ids`` go back to scheduled, their try number bump undone
    (the try never started: a worker's claim needs ``state='queued'``, so none can start it now)."""
    if not job_ids:
        return 0
    result = conn.execute(
        update(ti_t)
        .where(ti_t.c.state == S.QUEUED.value, ti_t.c.queued_by_job_id.in_(list(job_ids)))
        .values(
            state=S.SCHEDULED.value, try_number=ti_t.c.try_number - 1, queued_by_job_id=None, updated_at=now
        )
    )
    return int(result.rowcount)


def live_jobs(conn: Connection, job_type: str) -> int:
    """How many jobs of ``job_type`` are running (not ended, not found dead)."""
    q = select(func.count()).where(job_t.c.job_type == job_type, job_t.c.state == JobState.RUNNING.value)
    return int(conn.execute(q).scalar_one())


def live_job_ids(conn: Connection, job_type: str) -> list[int]:
    """The jobs of ``job_type`` that are running (not ended, not found dead)."""
    q = select(job_t.c.id).where(job_t.c.job_type == job_type, job_t.c.state == JobState.RUNNING.value)
    return [int(i) for i in conn.execute(q).scalars()]


def reset_queued_of_ended(conn: Connection, now: datetime) -> int:
    """Queued tries whose queuing job is not running any more (it ended, or was found dead) go back to
    scheduled; tries of running jobs, a scheduler that started a moment ago included, stay."""
    running = exists(
        select(job_t.c.id).where(
            job_t.c.id == ti_t.c.queued_by_job_id, job_t.c.state == JobState.RUNNING.value
        )
    )
    result = conn.execute(
        update(ti_t)
        .where(ti_t.c.state == S.QUEUED.value, ti_t.c.queued_by_job_id.is_not(None), ~running)
        .values(
            state=S.SCHEDULED.value, try_number=ti_t.c.try_number - 1, queued_by_job_id=None, updated_at=now
        )
    )
    return int(result.rowcount)
