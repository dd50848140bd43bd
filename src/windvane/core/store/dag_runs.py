"""DAG runs: every statement on the ``dag_run`` table (created by the scheduler, triggers and
backfills; started and finished by the scheduler).

A run's final state is journaled through the caller's
:class:`~windvane.core.store.journal_sql.JournalBatch` (see :func:`finish_run`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pendulum
from sqlalchemy import ColumnElement, Connection, RowMapping, func, insert, literal, select, update

from windvane.core.model import deadlines
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import DagRunState
from windvane.core.store._time import from_db
from windvane.core.store.journal_sql import RUN_RETURNING, JournalBatch, JournalReason
from windvane.core.store.rows import DagRunRow
from windvane.core.store.tables import dag_run
from windvane.errors import NotFoundError

run_t = dag_run


def list_dag_runs(
    conn: Connection, dag_id: str, *, limit: int = 25, state: str | None = None
) -> list[DagRunRow]:
    """Runs of ``dag_id``, newest logical date first, at most ``limit``; only
    runs in ``state`` when given."""
    stmt = (
        select(dag_run)
        .where(dag_run.c.dag_id == dag_id)
        .order_by(dag_run.c.logical_date.desc(), dag_run.c.id.desc())
        .limit(limit)
    )
    if state is not None:
        stmt = stmt.where(dag_run.c.state == state)
    return [_row(r) for r in conn.execute(stmt).mappings()]


def get_dag_run(conn: Connection, dag_id: str, run_id: str) -> DagRunRow:
    """The run ``run_id`` of ``dag_id``; :class:`NotFoundError` if there is none."""
    stmt = select(dag_run).where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise NotFoundError(f"DAG run {run_id!r} of DAG {dag_id!r} does not exist")
    return _row(row)


def _row(row: RowMapping) -> DagRunRow:
    return DagRunRow(
        id=row["id"],
        dag_id=row["dag_id"],
        run_id=row["run_id"],
        run_type=row["run_type"],
        logical_date=from_db(row["logical_date"]),
        data_interval_start=from_db(row["data_interval_start"]),
        data_interval_end=from_db(row["data_interval_end"]),
        state=row["state"],
        queued_at=from_db(row["queued_at"]),
        start_date=from_db(row["start_date"]),
        end_date=from_db(row["end_date"]),
        conf=row["conf"],
        dag_hash=row["dag_hash"],
        creating_job_id=row["creating_job_id"],
        external_trigger=bool(row["external_trigger"]),
    )


def utc(value: datetime | None) -> pendulum.DateTime | None:
    """A DB datetime as aware UTC (SQLite hands back naive UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return pendulum.instance(value, tz="UTC")
    return pendulum.instance(value).in_timezone("UTC")


# -- the scheduler's statements ----------------------------------------------------
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
    """Insert a run row (no task instances); return its id. Its ``deadline_at`` (the DAG's
    ``deadline`` after the run's due time, :mod:`~windvane.core.model.deadlines`) is set here."""
    due = deadlines.run_due_at(run_type, logical_date, interval_end, now)
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
            deadline_at=deadlines.after(due, dag.deadline),
        )
        .returning(run_t.c.id)
    )
    return int(result.scalar_one())


@dataclass(frozen=True)
class RunRow:
    """What the scheduler loads of a run."""

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
    conn: Connection,
    states: Sequence[str],
    *,
    run_pks: Sequence[int] | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[RunRow]:
    """Runs in ``states`` (of ``run_pks``; matching ``where``), oldest logical date first."""
    q = select(*_RUN_COLS).where(run_t.c.state.in_(states))
    if run_pks is not None:
        q = q.where(run_t.c.id.in_(run_pks))
    if where is not None:
        q = q.where(where)
    return [_run_row(r) for r in conn.execute(q.order_by(run_t.c.logical_date, run_t.c.id))]


def get_runs(conn: Connection, run_pks: Sequence[int]) -> list[RunRow]:
    return [_run_row(r) for r in conn.execute(select(*_RUN_COLS).where(run_t.c.id.in_(run_pks)))]


def start_run(
    conn: Connection,
    run_pk: int,
    now: datetime,
    *,
    owner: int | None = None,
    free: ColumnElement[bool] | None = None,
) -> bool:
    """``queued -> running``; False if the run was not queued (or, with ``free``, did not match it).
    ``owner``: the scheduler job that will drive it (``scheduled_by_job_id``)."""
    stmt = update(run_t).where(run_t.c.id == run_pk, run_t.c.state == DagRunState.QUEUED.value)
    if free is not None:
        stmt = stmt.where(free)
    values: dict[str, Any] = {
        "state": DagRunState.RUNNING.value,
        "start_date": func.coalesce(run_t.c.start_date, literal(now, type_=run_t.c.start_date.type)),
        "end_date": None,
    }
    if owner is not None:
        values["scheduled_by_job_id"] = owner
    return conn.execute(stmt.values(**values)).rowcount == 1


def finish_run(
    conn: Connection,
    run_pk: int,
    state: DagRunState,
    now: datetime,
    journal: JournalBatch,
    *,
    reason: JournalReason | None = None,
) -> bool:
    """``running -> state``, journaled in ``journal`` with ``reason``; False if the run was not running."""
    stmt = (
        update(run_t)
        .where(run_t.c.id == run_pk, run_t.c.state == DagRunState.RUNNING.value)
        .values(state=state.value, end_date=now)
        .returning(*(run_t.c[name] for name in RUN_RETURNING))
    )
    finished = conn.execute(stmt).all()
    journal.add_runs(finished, reason=reason)
    return bool(finished)


def due_at(conn: Connection, run_pk: int) -> datetime | None:
    """The due time of run ``run_pk`` (:func:`~windvane.core.model.deadlines.run_due_at`; the
    moment it was created is its ``queued_at``); None when there is no such run."""
    row = conn.execute(
        select(run_t.c.run_type, run_t.c.logical_date, run_t.c.data_interval_end, run_t.c.queued_at).where(
            run_t.c.id == run_pk
        )
    ).first()
    if row is None:
        return None
    logical = from_db(row.logical_date)
    created = from_db(row.queued_at) or logical
    return deadlines.run_due_at(row.run_type, logical, from_db(row.data_interval_end), created)


def requeue_run(conn: Connection, run_pk: int) -> None:
    """Send a run back to ``queued`` (cleared tasks wait in it), whatever its state."""
    conn.execute(
        update(run_t).where(run_t.c.id == run_pk).values(state=DagRunState.QUEUED.value, end_date=None)
    )
