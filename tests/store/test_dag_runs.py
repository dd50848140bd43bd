from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tests.store.helpers import T0, add_run
from windvane.core.store.dag_runs import get_dag_run, list_dag_runs
from windvane.errors import NotFoundError


def test_list_newest_first_with_limit_and_state(engine: Engine) -> None:
    with engine.begin() as conn:
        for day in (1, 3, 2):
            add_run(conn, "etl", f"r{day}", day=day, state="success" if day == 2 else "running")
        add_run(conn, "other", "r9", day=9)
    with engine.connect() as conn:
        assert [r.run_id for r in list_dag_runs(conn, "etl")] == ["r3", "r2", "r1"]
        assert [r.run_id for r in list_dag_runs(conn, "etl", limit=2)] == ["r3", "r2"]
        assert [r.run_id for r in list_dag_runs(conn, "etl", state="success")] == ["r2"]
        assert list_dag_runs(conn, "nobody") == []


def test_get_by_dag_and_run_id(engine: Engine) -> None:
    with engine.begin() as conn:
        run_id = add_run(conn, "etl", "r1", day=1)
    with engine.connect() as conn:
        run = get_dag_run(conn, "etl", "r1")
        with pytest.raises(NotFoundError, match="'r1' of DAG 'other'"):
            get_dag_run(conn, "other", "r1")
    assert run.id == run_id
    assert run.logical_date == T0 + timedelta(days=1)
    assert run.logical_date.utcoffset() == timedelta(0)
    assert run.data_interval_end == T0 + timedelta(days=2)
    assert (run.state, run.run_type, run.conf, run.external_trigger) == (
        "running",
        "scheduled",
        {"k": [1, 2]},
        False,
    )
    assert run.start_date is None
