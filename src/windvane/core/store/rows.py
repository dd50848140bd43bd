"""The rows the store's listings return, as plain values (no SQLAlchemy).

:mod:`~windvane.core.store.dags`, :mod:`~windvane.core.store.dag_runs` and
:mod:`~windvane.core.store.import_errors` read them through SQLAlchemy;
:mod:`~windvane.core.store.lists_sql` reads the same rows over a bare DBAPI
connection (``windvane dags list`` starts without SQLAlchemy). Both build them
here, so the two readers cannot drift apart in what a row holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class DagRow:
    """A DAG as listed (without its serialized JSON). Datetimes are aware UTC."""

    dag_id: str
    fileloc: str
    is_active: bool
    is_paused: bool
    dag_hash: str
    timetable_summary: str | None
    description: str | None
    tags: list[str]
    owners: str | None
    last_parsed_at: datetime | None
    next_dagrun_logical_date: datetime | None
    next_dagrun_data_interval_start: datetime | None
    next_dagrun_data_interval_end: datetime | None
    next_dagrun_create_after: datetime | None


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


@dataclass(frozen=True, slots=True)
class ImportErrorRow:
    """The file that failed, when (UTC) and the traceback."""

    filename: str
    timestamp: datetime
    stacktrace: str
