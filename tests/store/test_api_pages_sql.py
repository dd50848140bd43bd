"""The API's plain-SQL list pages (:mod:`windvane.core.store.api_pages_sql`) read what the
SQLAlchemy reads of :mod:`windvane.core.store.listing` read, page by page and with the same
``total``, on both backends (the API serves the first; schemathesis checks them against the
OpenAPI document)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic_core import to_json
from sqlalchemy import Engine, update

from tests.store.helpers import T0, add_run
from windvane.core.store import api_pages_sql, listing
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import dag_run, task_instance
from windvane.errors import NotFoundError
from windvane.testing import insert_task_instances

ODD = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)


def _fill(engine: Engine) -> int:
    """Two DAGs with runs in several states, one run with task instances; that run's id."""
    with begin_write(engine) as conn:
        for dag_id in ("a", "b"):
            upsert_dag(conn, dag_id=dag_id, fileloc=f"/{dag_id}.py", dag_hash="h", serialized="{}",
                       last_parsed_at=T0)  # fmt: skip
        for day in range(7):
            add_run(conn, "a", f"r{day}", day=day, state=("success", "failed", "running")[day % 3])
        add_run(conn, "b", "same_day", day=3)  # the same logical date as a's r3: ties break by id
        pk = add_run(conn, "a", "manual", day=9, state="queued")
        conn.execute(update(dag_run).where(dag_run.c.id == pk).values(start_date=ODD, conf=None))
    ids = insert_task_instances(engine, pk, "a", ["t3", "t1", "t2", "t0"], run_id="manual", state="running")
    with begin_write(engine) as conn:
        conn.execute(
            update(task_instance)
            .where(task_instance.c.id == ids["t1"])
            .values(state="success", start_date=ODD, end_date=ODD + timedelta(seconds=2), duration=2.0,
                    hostname="h1", operator="EmptyOperator")
        )  # fmt: skip
    return pk


def _fields(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


RUN_FILTERS: list[dict[str, Any]] = [
    {},
    {"dag_id": "a"},
    {"dag_id": "a", "states": ["success", "queued"]},
    {"states": ["running"]},
    {"logical_date_gte": T0 + timedelta(days=2), "logical_date_lte": T0 + timedelta(days=5)},
    {"dag_id": "b"},
]


@pytest.mark.parametrize("filters", RUN_FILTERS)
@pytest.mark.parametrize(("limit", "offset"), [(100, 0), (3, 0), (3, 3), (3, 9), (2, 50)])
def test_run_pages_match_the_sqlalchemy_read(
    engine: Engine, filters: dict[str, Any], limit: int, offset: int
) -> None:
    _fill(engine)
    with begin_read(engine) as conn:
        entries, total = api_pages_sql.runs_page(dbapi_tx(conn), limit=limit, offset=offset, **filters)
        rows, expected_total = listing.runs_page(conn, limit=limit, offset=offset, **filters)
    assert to_json(entries) == to_json([_fields(r, api_pages_sql.RUN_FIELDS) for r in rows])
    assert total == expected_total


@pytest.mark.parametrize("states", [None, ["running"], ["success", "failed"]])
@pytest.mark.parametrize(("limit", "offset"), [(100, 0), (2, 0), (2, 2), (2, 4), (1, 9)])
def test_task_instance_pages_match_the_sqlalchemy_read(
    engine: Engine, states: list[str] | None, limit: int, offset: int
) -> None:
    pk = _fill(engine)
    with begin_read(engine) as conn:
        entries, total = api_pages_sql.task_instances_page(
            dbapi_tx(conn), "a", "manual", limit=limit, offset=offset, states=states
        )
        rows, expected_total = listing.task_instances_page(
            conn, pk, limit=limit, offset=offset, states=states
        )
    assert to_json(entries) == to_json([_fields(r, api_pages_sql.TI_FIELDS) for r in rows])
    assert total == expected_total


def test_newest_runs_per_dag_newest_first(engine: Engine) -> None:
    _fill(engine)
    with begin_read(engine) as conn:
        found = api_pages_sql.newest_runs(dbapi_tx(conn), ["b", "a", "nobody"], 3)
        expected = {
            d: [
                _fields(r, ("run_id", "state", "logical_date"))
                for r in listing.runs_page(conn, limit=3, offset=0, dag_id=d)[0]
            ]
            for d in ("b", "a")
        }
    assert to_json(found) == to_json({**expected, "nobody": []})
    assert [e["run_id"] for e in found["a"]] == ["manual", "r6", "r5"]


def test_unknown_dags_and_runs_are_named(engine: Engine) -> None:
    _fill(engine)
    with begin_read(engine) as conn, pytest.raises(NotFoundError, match="'nope'"):
        api_pages_sql.runs_page(dbapi_tx(conn), limit=10, offset=0, dag_id="nope")
    with begin_read(engine) as conn, pytest.raises(NotFoundError, match="'r99' of DAG 'a'"):
        api_pages_sql.task_instances_page(dbapi_tx(conn), "a", "r99", limit=10, offset=0)


@pytest.mark.parametrize(
    ("stored", "json"),
    [
        ("2024-02-29 23:59:58.123456", '"2024-02-29T23:59:58.123456Z"'),
        ("2024-01-01 00:00:00.000000", '"2024-01-01T00:00:00Z"'),
        ("2024-01-01 00:00:00.000100", '"2024-01-01T00:00:00.000100Z"'),
        ("2024-01-01 00:00:00", '"2024-01-01T00:00:00Z"'),  # another writer's format: parsed
        (ODD, '"2024-02-29T23:59:58.123456Z"'),
        (None, "null"),
    ],
)
def test_stored_times_become_the_json_pydantic_writes(stored: Any, json: str) -> None:
    assert to_json(api_pages_sql.json_time(stored)).decode() == json
    if stored is not None:
        parsed = (
            datetime.fromisoformat(str(stored)).replace(tzinfo=UTC) if isinstance(stored, str) else stored
        )
        assert to_json(parsed).decode() == json
