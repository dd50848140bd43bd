"""Reads the CLI needs that the store modules do not offer as such."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.store._time import from_db
from windvane.core.store.dags import get_serialized
from windvane.core.store.tables import task_instance as ti_table


def load_serialized(conn: Connection, dag_id: str) -> SerializedDag:
    """The stored serialized DAG ``dag_id``; :class:`NotFoundError` naming it if there is none."""
    return SerializedDag.from_json(get_serialized(conn, dag_id))


@dataclass(frozen=True, slots=True)
class TiView:
    """One task instance as ``tasks states-for-dag-run`` shows it."""

    id: int
    task_id: str
    state: str
    try_number: int
    max_tries: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    hostname: str | None
    error: str | None


def task_instances_of_run(conn: Connection, run_pk: int) -> list[TiView]:
    """The task instances of run ``run_pk`` (unmapped ones), by task id."""
    stmt = (
        select(
            ti_table.c.id,
            ti_table.c.task_id,
            ti_table.c.state,
            ti_table.c.try_number,
            ti_table.c.max_tries,
            ti_table.c.start_date,
            ti_table.c.end_date,
            ti_table.c.duration,
            ti_table.c.hostname,
            ti_table.c.error,
        )
        .where(ti_table.c.dag_run_id == run_pk)
        .order_by(ti_table.c.task_id, ti_table.c.map_index)
    )
    return [
        TiView(
            id=r.id,
            task_id=r.task_id,
            state=r.state,
            try_number=r.try_number,
            max_tries=r.max_tries,
            start_date=from_db(r.start_date),
            end_date=from_db(r.end_date),
            duration=r.duration,
            hostname=r.hostname,
            error=r.error,
        )
        for r in conn.execute(stmt)
    ]
