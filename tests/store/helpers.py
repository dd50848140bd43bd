"""Rows the store tests need but no repository here writes (runs are the scheduler's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert

from windvane.core.store.tables import dag_run

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def add_run(conn: Connection, dag_id: str, run_id: str, *, day: int = 0, state: str = "running") -> int:
    """Insert a DAG run whose logical date is ``day`` days after T0; its id."""
    logical = T0 + timedelta(days=day)
    run_id_value: int = conn.execute(
        insert(dag_run)
        .values(
            dag_id=dag_id,
            run_id=run_id,
            run_type="scheduled",
            logical_date=logical,
            data_interval_start=logical,
            data_interval_end=logical + timedelta(days=1),
            state=state,
            conf={"k": [1, 2]},
        )
        .returning(dag_run.c.id)
    ).scalar_one()
    return run_id_value
