from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from tests.store.helpers import T0
from windvane.core.store.dags import (
    get_dag,
    get_serialized,
    list_dags,
    set_paused,
    upsert_dag,
)
from windvane.core.store.tables import dag
from windvane.errors import NotFoundError


def _upsert(engine: Engine, dag_id: str, fileloc: str, **kwargs: object) -> None:
    values: dict[str, object] = {
        "dag_hash": "h1",
        "serialized": f'{{"dag_id": "{dag_id}"}}',
        "last_parsed_at": T0,
    }
    values.update(kwargs)
    with engine.begin() as conn:
        upsert_dag(conn, dag_id=dag_id, fileloc=fileloc, **values)  # type: ignore[arg-type]


def test_new_dag_is_stored_active_with_its_fields(engine: Engine) -> None:
    _upsert(
        engine,
        "etl",
        "/dags/etl.py",
        timetable_summary="@daily",
        description="Nightly",
        tags=["b", "a"],
        owners="ana, bo",
        paused_on_create=True,
    )
    with engine.connect() as conn:
        row = get_dag(conn, "etl")
        assert get_serialized(conn, "etl") == '{"dag_id": "etl"}'
    assert (row.dag_id, row.fileloc, row.dag_hash) == ("etl", "/dags/etl.py", "h1")
    assert (row.is_active, row.is_paused) == (True, True)
    assert (row.timetable_summary, row.description, row.tags, row.owners) == (
        "@daily",
        "Nightly",
        ["b", "a"],
        "ana, bo",
    )
    assert row.last_parsed_at == T0
    assert row.next_dagrun_create_after is None


def test_update_keeps_paused_and_the_schedulers_columns(engine: Engine) -> None:
    _upsert(engine, "etl", "/dags/etl.py", paused_on_create=True)
    with engine.begin() as conn:
        set_paused(conn, "etl", False)
        conn.execute(update(dag).values(is_active=False, next_dagrun_create_after=T0 + timedelta(days=1)))
    later = T0 + timedelta(hours=1)
    _upsert(
        engine,
        "etl",
        "/dags/moved.py",
        dag_hash="h2",
        serialized="{}",
        last_parsed_at=later,
        paused_on_create=True,
    )
    with engine.connect() as conn:
        row = get_dag(conn, "etl")
        assert get_serialized(conn, "etl") == "{}"
    assert (row.is_active, row.is_paused, row.fileloc, row.dag_hash) == (True, False, "/dags/moved.py", "h2")
    assert row.last_parsed_at == later
    assert row.next_dagrun_create_after == T0 + timedelta(days=1)


def test_list_dags_by_paused(engine: Engine) -> None:
    _upsert(engine, "on", "/d/on.py")
    _upsert(engine, "off", "/d/off.py", paused_on_create=True)
    with engine.connect() as conn:
        assert [r.dag_id for r in list_dags(conn, paused=True)] == ["off"]
        assert [r.dag_id for r in list_dags(conn, paused=False)] == ["on"]


def test_unknown_dags_are_not_found(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(NotFoundError, match="'ghost'"):
            get_serialized(conn, "ghost")
        with pytest.raises(NotFoundError, match="'ghost'"):
            get_dag(conn, "ghost")
        with pytest.raises(NotFoundError, match="'ghost'"):
            set_paused(conn, "ghost", True)
