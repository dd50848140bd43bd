"""The CLI's listings over a bare DBAPI connection: DAGs, a DAG's runs, import errors, parsed files,
a DAG's serialized form.

``windvane dags list``, ``dags list-runs``, ``dags list-import-errors`` and ``tasks list`` run these on a
:class:`~windvane.core.store.raw.RawDb` so that they start without importing SQLAlchemy (about
half of their start-up, see ``bench/cli_startup.py``). Each function reads the rows that its
SQLAlchemy twin reads (:func:`~windvane.core.store.dags.list_dags`,
:func:`~windvane.core.store.dag_runs.list_dag_runs`,
:func:`~windvane.core.store.import_errors.list_import_errors`) and returns the same values
(:mod:`~windvane.core.store.rows`; :func:`serialized` as
:func:`~windvane.core.store.dags.get_serialized`): ``tests/store/test_lists_sql.py`` runs both on SQLite and
PostgreSQL and compares them. Values are decoded as SQLAlchemy's column types would: booleans
from SQLite's integers, JSON from SQLite's text, datetimes as aware UTC
(:func:`~windvane.core.store.raw_sql.read_time`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from windvane.core.store.raw_sql import SQLITE, Row, Sql, Tx, read_time
from windvane.core.store.rows import DagRow, DagRunRow, ImportErrorRow
from windvane.errors import NotFoundError

_DAG_COLUMNS = (
    "dag_id, fileloc, is_active, is_paused, dag_hash, timetable_summary, description, tags, owners, "
    "last_parsed_at, next_dagrun_logical_date, next_dagrun_data_interval_start, "
    "next_dagrun_data_interval_end, next_dagrun_create_after"
)
_ACTIVE_DAGS = Sql(f"SELECT {_DAG_COLUMNS} FROM dag WHERE is_active ORDER BY dag_id")
_DAG_EXISTS = Sql("SELECT 1 FROM dag WHERE dag_id = :dag_id")
_SERIALIZED = Sql("SELECT serialized FROM dag WHERE dag_id = :dag_id")
_RUN_COLUMNS = (
    "id, dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, "
    "queued_at, start_date, end_date, conf, dag_hash, creating_job_id, external_trigger"
)
_RUNS_ORDER = "ORDER BY logical_date DESC, id DESC LIMIT :limit"
_RUNS = Sql(f"SELECT {_RUN_COLUMNS} FROM dag_run WHERE dag_id = :dag_id {_RUNS_ORDER}")
_RUNS_IN_STATE = Sql(
    f"SELECT {_RUN_COLUMNS} FROM dag_run WHERE dag_id = :dag_id AND state = :state {_RUNS_ORDER}"
)
_IMPORT_ERRORS = Sql("SELECT filename, timestamp, stacktrace FROM import_error ORDER BY filename")
_PARSED_FILES = Sql("SELECT count(*) FROM dag_file")
_APPLIED_REVISIONS = Sql("SELECT version_num FROM alembic_version")


def active_dags(tx: Tx) -> list[DagRow]:
    """The active DAGs by id (:func:`~windvane.core.store.dags.list_dags` without arguments)."""
    return [_dag(row, tx.dialect) for row in tx.rows(_ACTIVE_DAGS)]


def require_dag(tx: Tx, dag_id: str) -> None:
    """:class:`NotFoundError` naming ``dag_id`` when there is no such DAG (as
    :func:`~windvane.core.store.dags.get_dag`)."""
    if tx.first(_DAG_EXISTS, {"dag_id": dag_id}) is None:
        raise NotFoundError(f"DAG {dag_id!r} does not exist")


def serialized(tx: Tx, dag_id: str) -> str:
    """The serialized JSON of ``dag_id``; :class:`NotFoundError` naming it if it was never stored."""
    row = tx.first(_SERIALIZED, {"dag_id": dag_id})
    if row is None:
        raise NotFoundError(f"DAG {dag_id!r} does not exist")
    return str(row[0])


def dag_runs(tx: Tx, dag_id: str, *, limit: int = 25, state: str | None = None) -> list[DagRunRow]:
    """Runs of ``dag_id``, newest logical date first, at most ``limit``; only runs in ``state``
    when given (:func:`~windvane.core.store.dag_runs.list_dag_runs`)."""
    if state is None:
        rows = tx.rows(_RUNS, {"dag_id": dag_id, "limit": limit})
    else:
        rows = tx.rows(_RUNS_IN_STATE, {"dag_id": dag_id, "state": state, "limit": limit})
    return [_run(row, tx.dialect) for row in rows]


def import_errors(tx: Tx) -> list[ImportErrorRow]:
    """Every recorded import error, by file name
    (:func:`~windvane.core.store.import_errors.list_import_errors`)."""
    return [ImportErrorRow(f, _time(t), s) for f, t, s in tx.rows(_IMPORT_ERRORS)]


def parsed_file_count(tx: Tx) -> int:
    """How many DAG files the DAG processor has stored."""
    row = tx.first(_PARSED_FILES)
    return int(row[0]) if row else 0


def applied_revisions(tx: Tx) -> set[str]:
    """The revisions in ``alembic_version`` (the table must exist)."""
    return {str(row[0]) for row in tx.rows(_APPLIED_REVISIONS)}


def _dag(row: Row, dialect: str) -> DagRow:
    tags = _json(row[7], dialect)
    return DagRow(
        dag_id=row[0],
        fileloc=row[1],
        is_active=bool(row[2]),
        is_paused=bool(row[3]),
        dag_hash=row[4],
        timetable_summary=row[5],
        description=row[6],
        tags=list(tags or ()),
        owners=row[8],
        last_parsed_at=read_time(row[9]),
        next_dagrun_logical_date=read_time(row[10]),
        next_dagrun_data_interval_start=read_time(row[11]),
        next_dagrun_data_interval_end=read_time(row[12]),
        next_dagrun_create_after=read_time(row[13]),
    )


def _run(row: Row, dialect: str) -> DagRunRow:
    return DagRunRow(
        id=row[0],
        dag_id=row[1],
        run_id=row[2],
        run_type=row[3],
        logical_date=_time(row[4]),
        data_interval_start=read_time(row[5]),
        data_interval_end=read_time(row[6]),
        state=row[7],
        queued_at=read_time(row[8]),
        start_date=read_time(row[9]),
        end_date=read_time(row[10]),
        conf=_json(row[11], dialect),
        dag_hash=row[12],
        creating_job_id=row[13],
        external_trigger=bool(row[14]),
    )


def _time(value: Any) -> datetime:
    """A datetime of a NOT NULL column."""
    found = read_time(value)
    assert found is not None, "a NOT NULL datetime column held NULL"
    return found


def _json(value: Any, dialect: str) -> Any:
    """A JSON column's value: SQLite hands back its text (``'null'`` for a JSON null), psycopg the
    decoded value."""
    if dialect == SQLITE and isinstance(value, str):
        return json.loads(value)
    return value
