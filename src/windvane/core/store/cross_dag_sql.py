"""Plain SQL for tasks that look at or start other DAGs' runs (ExternalTaskSensor,
TriggerDagRunOperator), run by workers on a :class:`~windvane.core.store.raw.RawDb` (no SQLAlchemy).

A triggered run is inserted ``queued`` without task instances, exactly as ``windvane dags trigger``
leaves it: the scheduler creates them when it starts the run. Resetting an existing run clears it
as ``tasks clear`` would (task instances back to ``none`` with their retries given again, XComs and
sensor reschedules deleted, ``cleared`` journal rows), leaving queued and running tries alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pendulum

from windvane.core.model import deadlines
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import DagRunState, DagRunType
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.store.journal_sql import TI_RETURNING_SQL, JournalBatch, JournalKind
from windvane.core.store.raw_sql import Sql, Tx, in_list, list_params, read_time
from windvane.core.store.xcom_sql import delete_xcoms

_DAG = Sql("SELECT serialized, dag_hash FROM dag WHERE dag_id = :dag_id")
_RUN_BY_ID = Sql("SELECT id, state FROM dag_run WHERE dag_id = :dag_id AND run_id = :run_id")
_RUN_STATES = "SELECT logical_date, state FROM dag_run WHERE dag_id = :dag_id AND logical_date IN {dates}"
_TI_STATES = (
    "SELECT r.logical_date, ti.task_id, ti.state FROM task_instance ti "
    "JOIN dag_run r ON r.id = ti.dag_run_id "
    "WHERE r.dag_id = :dag_id AND r.logical_date IN {dates} AND {tasks}"
)
_INSERT_RUN = (
    "INSERT INTO dag_run (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, "
    "state, queued_at, conf, dag_hash, external_trigger, deadline_at) VALUES (:dag_id, :run_id, :run_type, "
    ":logical_date, :start, :end, :state, :now, {conf}, :dag_hash, :external, :deadline_at)"
)
INSERT_RUN = Sql(_INSERT_RUN.format(conf=":conf"), postgresql=_INSERT_RUN.format(conf="CAST(:conf AS JSON)"))
_CLEAR_TI = Sql(
    "UPDATE task_instance SET state = :none, max_tries = try_number + :retries, start_date = NULL, "
    "end_date = NULL, next_retry_at = NULL, error = NULL, updated_at = :now "
    "WHERE dag_run_id = :run_pk AND task_id = :task_id AND state NOT IN (:running, :queued) "
    + TI_RETURNING_SQL
)
_FORGET_RESCHEDULES = "DELETE FROM task_reschedule WHERE ti_id IN {ids}"
_REQUEUE = Sql("UPDATE dag_run SET state = :queued, end_date = NULL WHERE id = :run_pk")


@dataclass(frozen=True, slots=True)
class StoredDag:
    dag: SerializedDag
    dag_hash: str


def stored_dag(tx: Tx, dag_id: str) -> StoredDag | None:
    """The DAG as last parsed, or None."""
    row = tx.first(_DAG, {"dag_id": dag_id})
    return None if row is None else StoredDag(SerializedDag.from_json(str(row[0])), str(row[1]))


def run_by_id(tx: Tx, dag_id: str, run_id: str) -> tuple[int, str] | None:
    """(row id, state) of one run, or None."""
    row = tx.first(_RUN_BY_ID, {"dag_id": dag_id, "run_id": run_id})
    return None if row is None else (int(row[0]), str(row[1]))


def run_states(tx: Tx, dag_id: str, dates: Sequence[datetime]) -> list[tuple[datetime, str]]:
    """(logical date, state) of the runs of ``dag_id`` at ``dates``."""
    if not dates:
        return []
    sql = Sql(_RUN_STATES.format(dates=in_list("d", len(dates))))
    rows = tx.rows(sql, {"dag_id": dag_id, **list_params("d", list(dates))})
    return [(_aware(r[0]), str(r[1])) for r in rows]


def ti_states(
    tx: Tx,
    dag_id: str,
    dates: Sequence[datetime],
    *,
    task_ids: Sequence[str] | None = None,
    group_id: str | None = None,
) -> list[tuple[datetime, str, str]]:
    """(logical date, task id, state) of the task instances of ``task_ids`` (or of task group
    ``group_id``: ids starting ``<group_id>.``) in the runs of ``dag_id`` at ``dates``."""
    if not dates or (task_ids is not None and not task_ids):
        return []
    params: dict[str, Any] = {"dag_id": dag_id, **list_params("d", list(dates))}
    if task_ids is not None:
        tasks = "ti.task_id IN " + in_list("t", len(task_ids))
        params.update(list_params("t", list(task_ids)))
    else:
        prefix = f"{group_id}."
        tasks = "substr(ti.task_id, 1, :prefix_len) = :prefix"
        params.update(prefix=prefix, prefix_len=len(prefix))
    rows = tx.rows(Sql(_TI_STATES.format(dates=in_list("d", len(dates)), tasks=tasks)), params)
    return [(_aware(r[0]), str(r[1]), str(r[2])) for r in rows]


def insert_manual_run(
    tx: Tx,
    stored: StoredDag,
    *,
    run_id: str,
    logical_date: pendulum.DateTime,
    conf: Mapping[str, Any],
    now: datetime,
) -> None:
    """Insert a queued manual run (its data interval as the DAG's timetable infers it)."""
    dag = stored.dag
    interval = dag.timetable_obj.infer_manual_data_interval(run_after=logical_date)
    due = deadlines.run_due_at(DagRunType.MANUAL.value, logical_date, interval.end, now)
    tx.execute(
        INSERT_RUN,
        {
            "dag_id": dag.dag_id,
            "run_id": run_id,
            "run_type": DagRunType.MANUAL.value,
            "logical_date": logical_date,
            "start": interval.start,
            "end": interval.end,
            "state": DagRunState.QUEUED.value,
            "now": now,
            "conf": json.dumps(dict(conf)),
            "dag_hash": stored.dag_hash,
            "external": True,
            "deadline_at": deadlines.after(due, dag.deadline),
        },
    )


def reset_run(tx: Tx, stored: StoredDag, run_pk: int, now: datetime) -> list[str]:
    """Clear every task instance of run ``run_pk`` not queued or running; the run goes back to
    queued. The cleared task ids."""
    journal = JournalBatch(now)
    common = {
        "none": S.NONE.value,
        "running": S.RUNNING.value,
        "queued": S.QUEUED.value,
        "run_pk": run_pk,
        "now": now,
    }
    cleared: list[str] = []
    cleared_ids: list[int] = []
    for task_id, spec in stored.dag.tasks.items():
        rows = tx.rows(_CLEAR_TI, {**common, "task_id": task_id, "retries": spec.retries})
        if rows:
            journal.add_tis(rows, kind=JournalKind.CLEARED)
            cleared.append(task_id)
            cleared_ids.extend(int(r[0]) for r in rows)
    if cleared:
        delete_xcoms(tx, run_pk, cleared)
        forget = Sql(_FORGET_RESCHEDULES.format(ids=in_list("ti", len(cleared_ids))))
        tx.execute(forget, list_params("ti", cleared_ids))
    tx.execute(_REQUEUE, {"queued": DagRunState.QUEUED.value, "run_pk": run_pk})
    journal.write(tx)
    return sorted(cleared)


def _aware(value: Any) -> datetime:
    found = read_time(value)
    assert found is not None
    return found
