"""Rendered template fields in SQL: written by the try that rendered them, read by the API.

One row per task instance (``rendered_task_instance_fields``, Airflow's table): the JSON object of
its template fields as its latest try rendered them, secrets already masked by the try's process.
:func:`record_rendered_fields` runs inside the try's finishing transaction
(:mod:`windvane.core.store.try_lifecycle`), so it costs no commit of its own, and only for tasks
that have template fields: one upsert, plus, on a task instance's first try, one delete that keeps
the newest :data:`KEPT_RUNS` runs of the task (Airflow's ``max_num_rendered_ti_fields_per_task``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from windvane.core.model.workload import Workload
from windvane.core.store._time import to_db
from windvane.core.store.raw_sql import Sql, Tx, read_time

#: Runs of one task whose rendered fields are kept (Airflow's default for the same limit).
KEPT_RUNS = 30

_UPSERT = Sql(
    "INSERT INTO rendered_task_instance_fields "
    "(dag_run_id, task_id, map_index, dag_id, run_id, try_number, rendered_fields, rendered_at) "
    "VALUES (:dag_run_id, :task_id, :map_index, :dag_id, :run_id, :try_number, :fields, :at) "
    "ON CONFLICT (dag_run_id, task_id, map_index) DO UPDATE SET try_number = excluded.try_number, "
    "rendered_fields = excluded.rendered_fields, rendered_at = excluded.rendered_at"
)
# Rows of runs older than the task's newest KEPT_RUNS runs that have rendered fields.
_PRUNE = Sql(
    "DELETE FROM rendered_task_instance_fields WHERE dag_id = :dag_id AND task_id = :task_id "
    "AND dag_run_id < (SELECT MIN(dag_run_id) FROM (SELECT DISTINCT dag_run_id "
    "FROM rendered_task_instance_fields WHERE dag_id = :dag_id AND task_id = :task_id "
    "ORDER BY dag_run_id DESC LIMIT :keep) newest)"
)
_GET = Sql(
    "SELECT try_number, rendered_fields, rendered_at FROM rendered_task_instance_fields "
    "WHERE dag_run_id = :dag_run_id AND task_id = :task_id AND map_index = :map_index"
)


@dataclass(frozen=True, slots=True)
class RenderedFields:
    """A task instance's rendered template fields (name -> masked value) and the try that rendered them."""

    try_number: int
    fields: dict[str, Any]
    rendered_at: datetime


def record_rendered_fields(
    tx: Tx,
    *,
    dag_run_id: int,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    try_number: int,
    fields_json: str,
    now: datetime,
    prune: bool,
    keep: int = KEPT_RUNS,
) -> None:
    """Store ``fields_json`` (a JSON object) as the rendered fields of one task instance; with
    ``prune`` (the caller passes it on a task instance's first try: a new run's row appeared), drop
    the task's rows of runs older than its newest ``keep``."""
    at = to_db(now, f"rendered fields of task {task_id!r} in run {run_id!r}")
    where = {"dag_id": dag_id, "task_id": task_id}
    row = {**where, "dag_run_id": dag_run_id, "map_index": map_index, "run_id": run_id}
    tx.execute(_UPSERT, {**row, "try_number": try_number, "fields": fields_json, "at": at})
    if prune:
        tx.execute(_PRUNE, {**where, "keep": keep})


def record_for_try(
    tx: Tx, workload: Workload, fields_json: str | None, now: datetime, *, prune: bool
) -> None:
    """:func:`record_rendered_fields` for the try ``workload`` (its task instance and try number);
    nothing for no fields (a task without template fields, or a try that did not render them)."""
    if fields_json is None:
        return
    record_rendered_fields(
        tx,
        dag_run_id=workload.dag_run_id,
        dag_id=workload.dag_id,
        run_id=workload.run_id,
        task_id=workload.task_id,
        map_index=workload.map_index,
        try_number=workload.try_number,
        fields_json=fields_json,
        now=now,
        prune=prune,
    )


def get_rendered_fields(tx: Tx, dag_run_id: int, task_id: str, map_index: int = -1) -> RenderedFields | None:
    """The stored rendered fields of one task instance, or None (no templated try recorded them)."""
    found = tx.first(_GET, {"dag_run_id": dag_run_id, "task_id": task_id, "map_index": map_index})
    if found is None:
        return None
    try_number, text, at = found
    rendered_at = read_time(at)
    assert rendered_at is not None  # the column is NOT NULL
    return RenderedFields(int(try_number), dict(json.loads(text)), rendered_at)
