"""Paged, filtered reads for the REST API and the UI: DAGs, runs, task instances, XComs, tries.

Each ``*_page`` function returns ``(rows, total)``: one page in a stable order and
how many rows match the filters, so a client can page with ``limit``/``offset``.
The rows are the same frozen values the CLI reads (:class:`DagRow`, :class:`DagRunRow`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from windvane.core.store import dag_runs, dags
from windvane.core.store._time import from_db
from windvane.core.store.journal_sql import JournalKind
from windvane.core.store.rows import DagRow, DagRunRow
from windvane.core.store.tables import dag, dag_change, dag_run, job, state_journal, task_instance, xcom
from windvane.errors import NotFoundError


def _count(conn: Connection, stmt: Select[Any]) -> int:
    total: int = conn.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    return total


def dags_page(
    conn: Connection,
    *,
    limit: int,
    offset: int,
    tags: list[str] | None = None,
    paused: bool | None = None,
    dag_id_pattern: str | None = None,
) -> tuple[list[DagRow], int]:
    """Active DAGs by id. ``tags``: DAGs with any of them; ``dag_id_pattern``: a substring of the id
    (case-insensitive, ``%`` and ``_`` match literally)."""
    stmt = select(*dags._LISTED).where(dag.c.is_active)
    if paused is not None:
        stmt = stmt.where(dag.c.is_paused == paused)
    if dag_id_pattern:
        escaped = dag_id_pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(dag.c.dag_id).like(f"%{escaped.lower()}%", escape="\\"))
    if not tags:
        total = _count(conn, stmt)
        page = stmt.order_by(dag.c.dag_id).limit(limit).offset(offset)
        return [dags._row(r) for r in conn.execute(page).mappings()], total
    # Tags are a JSON list: matched here (portable across SQLite, PostgreSQL and MariaDB) on the ids
    # and tags alone; only the page's rows are read in full.
    wanted = set(tags)
    ids_and_tags = stmt.with_only_columns(dag.c.dag_id, dag.c.tags).order_by(dag.c.dag_id)
    matching = [dag_id for dag_id, found in conn.execute(ids_and_tags) if wanted.intersection(found or ())]
    page_ids = matching[offset : offset + limit]
    rows = conn.execute(select(*dags._LISTED).where(dag.c.dag_id.in_(page_ids)).order_by(dag.c.dag_id))
    return [dags._row(r) for r in rows.mappings()], len(matching)


def runs_page(
    conn: Connection,
    *,
    limit: int,
    offset: int,
    dag_id: str | None = None,
    states: list[str] | None = None,
    logical_date_gte: datetime | None = None,
    logical_date_lte: datetime | None = None,
) -> tuple[list[DagRunRow], int]:
    """Runs, newest logical date first; of one DAG when ``dag_id`` is given."""
    stmt = select(dag_run)
    if dag_id is not None:
        stmt = stmt.where(dag_run.c.dag_id == dag_id)
    if states:
        stmt = stmt.where(dag_run.c.state.in_(states))
    if logical_date_gte is not None:
        stmt = stmt.where(dag_run.c.logical_date >= logical_date_gte)
    if logical_date_lte is not None:
        stmt = stmt.where(dag_run.c.logical_date <= logical_date_lte)
    total = _count(conn, stmt)
    page = stmt.order_by(dag_run.c.logical_date.desc(), dag_run.c.id.desc()).limit(limit).offset(offset)
    return [dag_runs._row(r) for r in conn.execute(page).mappings()], total


@dataclass(frozen=True, slots=True)
class TaskInstanceRow:
    """One task instance with its current try. Datetimes are aware UTC."""

    id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str
    try_number: int
    max_tries: int
    priority_weight: int
    pool: str
    pool_slots: int
    queue: str
    operator: str | None
    scheduled_dttm: datetime | None
    queued_dttm: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    hostname: str | None
    pid: int | None
    next_retry_at: datetime | None
    error: str | None
    updated_at: datetime | None


_TIME_COLUMNS = (
    "scheduled_dttm",
    "queued_dttm",
    "start_date",
    "end_date",
    "next_retry_at",
    "updated_at",
)


def _ti(r: Any) -> TaskInstanceRow:
    values = {name: r[name] for name in TaskInstanceRow.__dataclass_fields__}
    for name in _TIME_COLUMNS:
        values[name] = from_db(values[name])
    return TaskInstanceRow(**values)


def _ti_select() -> Select[Any]:
    return select(*(task_instance.c[name] for name in TaskInstanceRow.__dataclass_fields__))


def task_instances_page(
    conn: Connection, run_pk: int, *, limit: int, offset: int, states: list[str] | None = None
) -> tuple[list[TaskInstanceRow], int]:
    """The task instances of run ``run_pk`` by task id and map index."""
    stmt = _ti_select().where(task_instance.c.dag_run_id == run_pk)
    if states:
        stmt = stmt.where(task_instance.c.state.in_(states))
    total = _count(conn, stmt)
    page = stmt.order_by(task_instance.c.task_id, task_instance.c.map_index).limit(limit).offset(offset)
    return [_ti(r) for r in conn.execute(page).mappings()], total


def get_task_instance(conn: Connection, run_pk: int, task_id: str, map_index: int = -1) -> TaskInstanceRow:
    """One task instance of run ``run_pk``; :class:`NotFoundError` naming it if there is none."""
    stmt = _ti_select().where(
        task_instance.c.dag_run_id == run_pk,
        task_instance.c.task_id == task_id,
        task_instance.c.map_index == map_index,
    )
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise NotFoundError(f"task {task_id!r} has no task instance in run {run_pk}")
    return _ti(row)


@dataclass(frozen=True, slots=True)
class FinishedTry:
    """A try's end as the state-change journal recorded it (kept until the journal is pruned)."""

    try_number: int
    state: str
    recorded_at: datetime
    hostname: str | None
    error: str | None
    reason: str | None


def finished_tries(conn: Connection, ti_id: int) -> list[FinishedTry]:
    """Every journaled end of a try of task instance ``ti_id``, oldest first."""
    stmt = (
        select(
            state_journal.c.try_number,
            state_journal.c.state,
            state_journal.c.recorded_at,
            state_journal.c.hostname,
            state_journal.c.error,
            state_journal.c.reason,
        )
        .where(state_journal.c.ti_id == ti_id, state_journal.c.kind == JournalKind.TRY_FINISHED.value)
        .order_by(state_journal.c.id)
    )
    return [
        FinishedTry(r.try_number or 0, r.state, from_db(r.recorded_at), r.hostname, r.error, r.reason)
        for r in conn.execute(stmt)
    ]


def xcoms_of(conn: Connection, run_pk: int, task_id: str, map_index: int = -1) -> list[tuple[str, str]]:
    """``(key, JSON text)`` of every XCom one task instance pushed, by key."""
    stmt = (
        select(xcom.c.key, xcom.c.value)
        .where(xcom.c.dag_run_id == run_pk, xcom.c.task_id == task_id, xcom.c.map_index == map_index)
        .order_by(xcom.c.key)
    )
    return [(k, v) for k, v in conn.execute(stmt)]


def latest_heartbeat(conn: Connection, job_type: str) -> datetime | None:
    """The newest heartbeat of a running job of ``job_type`` (None: no such job is running)."""
    stmt = select(func.max(job.c.latest_heartbeat)).where(
        job.c.job_type == job_type, job.c.state == "running"
    )
    return from_db(conn.execute(stmt).scalar_one_or_none())


@dataclass(frozen=True, slots=True)
class JobBeat:
    """The running job of a type with the newest heartbeat, and the loop timing it wrote with it."""

    latest_heartbeat: datetime
    loop_p95_seconds: float | None
    loop_samples: int | None


def newest_job_beat(conn: Connection, job_type: str) -> JobBeat | None:
    """The running ``job_type`` job with the newest heartbeat (None: no such job is running)."""
    stmt = (
        select(job.c.latest_heartbeat, job.c.loop_p95_seconds, job.c.loop_samples)
        .where(job.c.job_type == job_type, job.c.state == "running")
        .order_by(job.c.latest_heartbeat.desc())
        .limit(1)
    )
    row = conn.execute(stmt).first()
    if row is None:
        return None
    return JobBeat(from_db(row[0]), row[1], row[2])


def dag_change_seq(conn: Connection) -> int:
    """The ``dag_change`` counter: database triggers raise it on every change of a listed DAG
    column but ``last_parsed_at`` (migration 0006)."""
    seq = conn.execute(select(dag_change.c.seq).where(dag_change.c.id == 1)).scalar_one_or_none()
    return int(seq or 0)


def run_pk_of(conn: Connection, dag_id: str, run_id: str) -> int:
    """The row id of run ``run_id`` of ``dag_id``; :class:`NotFoundError` naming both."""
    pk = conn.execute(
        select(dag_run.c.id).where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
    ).scalar_one_or_none()
    if pk is None:
        raise NotFoundError(f"DAG run {run_id!r} of DAG {dag_id!r} does not exist")
    return int(pk)
