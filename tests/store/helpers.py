"""Rows the store tests need but no repository here writes (runs are the scheduler's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from windvane.testing import insert_run

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def add_run(conn: Connection, dag_id: str, run_id: str, *, day: int = 0, state: str = "running") -> int:
    """Insert a scheduled DAG run, not started, whose logical date is ``day`` days after T0; its id."""
    logical = T0 + timedelta(days=day)
    return insert_run(
        conn,
        dag_id,
        run_id,
        logical_date=logical,
        data_interval_end=logical + timedelta(days=1),
        run_type="scheduled",
        state=state,
        conf={"k": [1, 2]},
        start_date=None,
    )
