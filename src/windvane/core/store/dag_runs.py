"""Reading DAG runs (the scheduler creates and moves them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from windvane.core.store._time import from_db
from windvane.core.store.tables import dag_run
from windvane.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class DagRunRow:
    """One DAG run. Datetimes are aware UTC."""

    id: int
    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    state: str
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any] | None
    dag_hash: str | None
    creating_job_id: int | None
    external_trigger: bool


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
