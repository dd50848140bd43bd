"""The SQLAlchemy-free listings (:mod:`windvane.core.store.lists_sql`) read what their SQLAlchemy twins
read, on both backends: ``windvane dags list`` and friends use the first, the API the second."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, insert, null, update

from tests.store.helpers import T0, add_run
from windvane.core.store import lists_sql
from windvane.core.store.dag_runs import list_dag_runs
from windvane.core.store.dags import (
    deactivate,
    get_dag,
    get_serialized,
    list_dags,
    set_next_dagrun,
    set_paused,
    upsert_dag,
)
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.import_errors import list_import_errors, replace_import_error
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Tx
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import dag, dag_file, dag_run
from windvane.errors import NotFoundError

T = TypeVar("T")
ODD = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)


def _fill(engine: Engine) -> None:
    with begin_write(engine) as conn:
        for dag_id, tags in (("b_etl", ["x", "a"]), ("a_report", []), ("c_null_tags", []), ("gone", [])):
            upsert_dag(
                conn,
                dag_id=dag_id,
                fileloc=f"/dags/{dag_id}.py",
                dag_hash=f"h_{dag_id}",
                serialized=f'{{"dag_id": "{dag_id}", "note": "\u00e9t\u00e9"}}',
                last_parsed_at=ODD,
                timetable_summary="@daily" if dag_id != "a_report" else None,
                description="Nightly\nload" if dag_id == "b_etl" else None,
                tags=tags,
                owners="data-eng, ops" if dag_id == "b_etl" else None,
            )
        set_paused(conn, "a_report", True)
        deactivate(conn, ["gone"])
        set_next_dagrun(conn, "b_etl", T0, T0, T0 + timedelta(days=1), T0 + timedelta(days=1))
        conn.execute(update(dag).where(dag.c.dag_id == "c_null_tags").values(tags=null()))
        conn.execute(update(dag).where(dag.c.dag_id == "a_report").values(tags=None))  # JSON null
        for day, state in enumerate(("success", "failed", "running", "success")):
            add_run(conn, "b_etl", f"scheduled_{day}", day=day, state=state)
        add_run(conn, "b_etl", "same_day_later_id", day=3, state="queued")
        conn.execute(update(dag_run).where(dag_run.c.run_id == "scheduled_1").values(conf=None))
        conn.execute(update(dag_run).where(dag_run.c.run_id == "scheduled_2").values(conf=null()))
        replace_import_error(conn, "/dags/z.py", "Traceback ...\nSyntaxError: boom", ODD)
        replace_import_error(conn, "/dags/m.py", "DAG 'x' is quarantined by the scheduler", T0)
        conn.execute(insert(dag_file).values(path="/dags/b_etl.py", content_hash="c", dag_ids=["b_etl"]))


def _both(engine: Engine, body: Callable[[Tx], T]) -> tuple[T, T]:
    """``body`` on a RawDb of ``engine``'s database, and inside a SQLAlchemy transaction."""
    db = RawDb(engine.url.render_as_string(hide_password=False))
    try:
        raw = db.read(body)
    finally:
        db.close()
    with begin_read(engine) as conn:
        bridged = body(dbapi_tx(conn))
    return raw, bridged


def test_dags_read_as_list_dags_reads_them(engine: Engine) -> None:
    _fill(engine)
    with begin_read(engine) as conn:
        expected = list_dags(conn)
    assert [d.dag_id for d in expected] == ["a_report", "b_etl", "c_null_tags"]  # the setup is varied
    assert {d.next_dagrun_create_after is None for d in expected} == {True, False}
    raw, bridged = _both(engine, lists_sql.active_dags)
    assert raw == expected and bridged == expected
    assert all(d.last_parsed_at is not None and d.last_parsed_at.tzinfo is not None for d in raw)


@pytest.mark.parametrize(
    ("limit", "state"), [(25, None), (2, None), (25, "success"), (1, "success"), (5, "up")]
)
def test_runs_read_as_list_dag_runs_reads_them(engine: Engine, limit: int, state: str | None) -> None:
    _fill(engine)
    with begin_read(engine) as conn:
        expected = list_dag_runs(conn, "b_etl", limit=limit, state=state)
    raw, bridged = _both(engine, lambda tx: lists_sql.dag_runs(tx, "b_etl", limit=limit, state=state))
    assert raw == expected and bridged == expected
    if (limit, state) == (25, None):
        assert [r.run_id for r in raw][:2] == ["same_day_later_id", "scheduled_3"]
        assert {repr(r.conf) for r in raw} == {"{'k': [1, 2]}", "None"}


def test_import_errors_and_parsed_files(engine: Engine) -> None:
    assert _both(engine, lists_sql.import_errors) == ([], [])
    assert _both(engine, lists_sql.parsed_file_count) == (0, 0)
    _fill(engine)
    with begin_read(engine) as conn:
        expected = list_import_errors(conn)
    raw, bridged = _both(engine, lists_sql.import_errors)
    assert raw == expected and bridged == expected and len(raw) == 2
    assert _both(engine, lists_sql.parsed_file_count) == (1, 1)


def test_serialized_reads_as_get_serialized_reads_it(engine: Engine) -> None:
    _fill(engine)
    with begin_read(engine) as conn:
        expected = get_serialized(conn, "b_etl")
    assert _both(engine, lambda tx: lists_sql.serialized(tx, "b_etl")) == (expected, expected)


def test_an_unknown_dag_is_named_as_get_dag_names_it(engine: Engine) -> None:
    _fill(engine)
    messages: list[Any] = []
    with begin_read(engine) as conn:
        with pytest.raises(NotFoundError) as expected:
            get_dag(conn, "nope")
        messages.append(str(expected.value))
        with pytest.raises(NotFoundError) as expected:
            get_serialized(conn, "nope")
        messages.append(str(expected.value))
    readers: list[Callable[[Tx], object]] = [
        lambda tx: lists_sql.require_dag(tx, "nope"),
        lambda tx: lists_sql.serialized(tx, "nope"),
    ]
    for reader in readers:
        with pytest.raises(NotFoundError) as found:
            _both(engine, reader)
        messages.append(str(found.value))
    assert messages == ["DAG 'nope' does not exist"] * 4
    assert _both(engine, lambda tx: lists_sql.require_dag(tx, "gone")) == (None, None)  # inactive: there


def test_applied_revisions_are_alembics(engine: Engine) -> None:
    raw, bridged = _both(engine, lists_sql.applied_revisions)
    assert raw == bridged and raw
