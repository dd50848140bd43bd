"""The REST API's busiest list pages in plain SQL, rows straight to JSON-ready dicts: runs, a run's
task instances, and the newest runs of many DAGs (the UI's coloured squares).

Each function runs on a :class:`~windvane.core.store.raw_sql.Tx` (the DBAPI connection under the
API's read transaction, :func:`~windvane.core.store.sql_bridge.dbapi_tx`) and returns dicts whose
keys are exactly the fields of the API's response models, values decoded as SQLAlchemy's column
types would (JSON decoded, booleans from SQLite's integers) and datetimes as aware UTC or, from
SQLite's stored text, directly as the JSON text pydantic writes for them (:func:`json_time`:
parsing 500 timestamps cost more than the query that read them): the API serializes them once,
without building SQLAlchemy rows, frozen dataclasses and pydantic models for each (three quarters
of a page's CPU before). ``tests/store/test_api_pages_sql.py`` compares
them with the SQLAlchemy reads of :mod:`~windvane.core.store.listing` on SQLite and PostgreSQL.

``total`` is exact (Airflow's ``total_entries``): counted by the database only when the page is
full; a page with fewer rows than ``limit`` (and at least one, or none at offset 0) already says
how many match.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from windvane.core.store.raw_sql import SQLITE, Row, Sql, Tx, in_list, list_params, read_time
from windvane.errors import NotFoundError

Entry = dict[str, Any]

RUN_FIELDS = (
    "dag_id", "run_id", "run_type", "state", "logical_date", "data_interval_start", "data_interval_end",
    "queued_at", "start_date", "end_date", "conf", "external_trigger",
)  # fmt: skip
_RUN_TIMES = frozenset({"logical_date", "data_interval_start", "data_interval_end", "queued_at",
                        "start_date", "end_date"})  # fmt: skip
TI_FIELDS = (
    "dag_id", "run_id", "task_id", "map_index", "state", "try_number", "max_tries", "priority_weight",
    "pool", "pool_slots", "queue", "operator", "scheduled_dttm", "queued_dttm", "start_date", "end_date",
    "duration", "hostname", "next_retry_at", "error",
)  # fmt: skip
_TI_TIMES = frozenset({"scheduled_dttm", "queued_dttm", "start_date", "end_date", "next_retry_at"})
_RUN_PK = Sql("SELECT id FROM dag_run WHERE dag_id = :dag_id AND run_id = :run_id")
_DAG_EXISTS = Sql("SELECT 1 FROM dag WHERE dag_id = :dag_id")


def _total(tx: Tx, count_sql: Sql, params: dict[str, Any], found: int, limit: int, offset: int) -> int:
    """How many rows match: the page tells when it is not full, else the database counts."""
    if found < limit and (found or not offset):
        return offset + found
    row = tx.first(count_sql, params)
    return int(row[0]) if row else 0


@lru_cache(maxsize=64)
def _runs_sql(by_dag: bool, states: int, gte: bool, lte: bool) -> tuple[Sql, Sql]:
    """The page and count statements of :func:`runs_page` for one shape of filters."""
    where = []
    if by_dag:
        where.append("dag_id = :dag_id")
    if states:
        where.append("state IN " + in_list("state", states))
    if gte:
        where.append("logical_date >= :gte")
    if lte:
        where.append("logical_date <= :lte")
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    page = (
        f"SELECT {', '.join(RUN_FIELDS)} FROM dag_run{clause} "
        "ORDER BY logical_date DESC, id DESC LIMIT :limit OFFSET :offset"
    )
    return Sql(page), Sql(f"SELECT count(*) FROM dag_run{clause}")


def runs_page(
    tx: Tx,
    *,
    limit: int,
    offset: int,
    dag_id: str | None = None,
    states: Sequence[str] | None = None,
    logical_date_gte: datetime | None = None,
    logical_date_lte: datetime | None = None,
) -> tuple[list[Entry], int]:
    """Runs as the API's ``DagRun``, newest logical date first; of one DAG when ``dag_id`` is given
    (:class:`NotFoundError` naming it when there is no such DAG)."""
    if dag_id is not None and tx.first(_DAG_EXISTS, {"dag_id": dag_id}) is None:
        raise NotFoundError(f"DAG {dag_id!r} does not exist")
    page_sql, count_sql = _runs_sql(
        dag_id is not None, len(states or ()), logical_date_gte is not None, logical_date_lte is not None
    )
    params: dict[str, Any] = {"dag_id": dag_id, "gte": logical_date_gte, "lte": logical_date_lte}
    params.update(list_params("state", states or ()))
    rows = tx.rows(page_sql, {**params, "limit": limit, "offset": offset})
    entries = [_run(row, tx.dialect) for row in rows]
    return entries, _total(tx, count_sql, params, len(entries), limit, offset)


@lru_cache(maxsize=16)
def _tis_sql(states: int) -> tuple[Sql, Sql]:
    clause = " WHERE dag_run_id = :pk" + (" AND state IN " + in_list("state", states) if states else "")
    page = (
        f"SELECT {', '.join(TI_FIELDS)} FROM task_instance{clause} "
        "ORDER BY task_id, map_index LIMIT :limit OFFSET :offset"
    )
    return Sql(page), Sql(f"SELECT count(*) FROM task_instance{clause}")


def task_instances_page(
    tx: Tx, dag_id: str, run_id: str, *, limit: int, offset: int, states: Sequence[str] | None = None
) -> tuple[list[Entry], int]:
    """The task instances of run ``run_id`` of ``dag_id`` as the API's ``TaskInstance``, by task id
    and map index; :class:`NotFoundError` naming both when there is no such run."""
    found = tx.first(_RUN_PK, {"dag_id": dag_id, "run_id": run_id})
    if found is None:
        raise NotFoundError(f"DAG run {run_id!r} of DAG {dag_id!r} does not exist")
    page_sql, count_sql = _tis_sql(len(states or ()))
    params = {"pk": found[0], **list_params("state", states or ())}
    rows = tx.rows(page_sql, {**params, "limit": limit, "offset": offset})
    entries = [_decoded(TI_FIELDS, _TI_TIMES, row) for row in rows]
    return entries, _total(tx, count_sql, params, len(entries), limit, offset)


#: DAGs per statement of :func:`newest_runs` (SQLite allows 500 parts in a UNION ALL).
DAGS_PER_QUERY = 100


@lru_cache(maxsize=64)
def _newest_sql(count: int) -> Sql:
    """The newest ``:runs`` runs of each of ``count`` DAGs (``:d_0``, ``:d_1``...): one index range
    per DAG (``dag_id, logical_date``) with its own LIMIT, so a DAG with years of runs costs ``runs``
    rows, not all of them."""
    one = (
        "SELECT * FROM (SELECT dag_id, run_id, state, logical_date, id FROM dag_run WHERE dag_id = :d_{i} "
        "ORDER BY logical_date DESC, id DESC LIMIT :runs) AS r{i}"
    )
    return Sql(" UNION ALL ".join(one.format(i=i) for i in range(count)))


def newest_runs(tx: Tx, dag_ids: Sequence[str], runs: int) -> dict[str, list[Entry]]:
    """The newest ``runs`` runs (``run_id``, ``state``, ``logical_date``) of each of ``dag_ids``,
    newest first; a DAG without runs (or unknown) has an empty list."""
    wanted = sorted(set(dag_ids))
    rows: list[Row] = []
    for start in range(0, len(wanted), DAGS_PER_QUERY):
        chunk = wanted[start : start + DAGS_PER_QUERY]
        rows += tx.rows(_newest_sql(len(chunk)), {"runs": runs, **list_params("d", chunk)})
    # A UNION keeps no order. By the stored value, as the database orders: SQLite's text sorts as
    # the times it holds (one fixed format), PostgreSQL's are datetimes.
    rows.sort(key=lambda r: (r[3], r[4]), reverse=True)
    found: dict[str, list[Entry]] = {d: [] for d in dag_ids}
    for dag_id, run_id, state, at, _pk in rows:
        found[dag_id].append({"run_id": run_id, "state": state, "logical_date": json_time(at)})
    return found


def json_time(value: Any) -> datetime | str | None:
    """A stored datetime as the API's JSON will hold it: SQLite's text ``YYYY-MM-DD
    HH:MM:SS.ffffff`` (how SQLAlchemy and :func:`~windvane.core.store.raw_sql.bind_time` store UTC)
    straight as the text pydantic writes for that aware UTC datetime (``...THH:MM:SSZ``, the
    fraction only when not zero); anything else as an aware UTC datetime."""
    if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
        fraction = value[19:]
        return f"{value[:10]}T{value[11:19]}{'' if fraction == '.000000' else fraction}Z"
    return read_time(value)


def _run(row: Row, dialect: str) -> Entry:
    entry = _decoded(RUN_FIELDS, _RUN_TIMES, row)
    conf = entry["conf"]
    if dialect == SQLITE and isinstance(conf, str):
        entry["conf"] = json.loads(conf)
    entry["external_trigger"] = bool(entry["external_trigger"])
    return entry


def _decoded(fields: tuple[str, ...], times: frozenset[str], row: Row) -> Entry:
    return {
        name: read_time(value) if name in times else value for name, value in zip(fields, row, strict=True)
    }
