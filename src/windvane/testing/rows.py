"""Rows of DAG runs and task instances: put them in a test's database, and read them back.

The inserts write what the scheduler would have written (a run, its task
instances queued by job :data:`JOB_ID`) so that workers, executors and store
functions can be tested without a scheduler. Each writer takes an
:class:`~sqlalchemy.Engine` (one transaction of its own) or a
:class:`~sqlalchemy.Connection` (the caller's transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import EllipsisType
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, insert, select

from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.tables import dag_run, task_instance, xcom

#: The scheduler job id the inserted task instances are queued by.
JOB_ID = 7
#: The logical date (and start) of the runs :func:`insert_run` makes by default.
LOGICAL_DATE = datetime(2024, 1, 1, tzinfo=UTC)
#: The run id :func:`insert_run` and :func:`insert_task_instances` use by default.
RUN_ID = "manual__2024-01-01"


@contextmanager
def _writing(target: Engine | Connection) -> Iterator[Connection]:
    if isinstance(target, Connection):
        yield target
        return
    with begin_write(target) as conn:
        yield conn


def insert_run(
    target: Engine | Connection,
    dag_id: str,
    run_id: str = RUN_ID,
    *,
    logical_date: datetime = LOGICAL_DATE,
    data_interval_end: datetime | None = None,
    run_type: str = "manual",
    state: str = "running",
    conf: dict[str, Any] | None = None,
    start_date: datetime | EllipsisType | None = ...,
) -> int:
    """Insert a ``dag_run`` row; its primary key.

    The data interval runs from ``logical_date`` to ``data_interval_end``
    (default: the same instant); ``start_date`` defaults to the logical date
    (None: a run that has not started).
    """
    with _writing(target) as conn:
        result = conn.execute(
            insert(dag_run).values(
                dag_id=dag_id,
                run_id=run_id,
                run_type=run_type,
                logical_date=logical_date,
                data_interval_start=logical_date,
                data_interval_end=logical_date if data_interval_end is None else data_interval_end,
                state=state,
                start_date=logical_date if start_date is ... else start_date,
                conf={} if conf is None else conf,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def insert_task_instances(
    target: Engine | Connection,
    dag_run_id: int,
    dag_id: str,
    task_ids: Iterable[str],
    *,
    run_id: str = RUN_ID,
    state: str = "queued",
    try_number: int = 1,
    max_tries: int = 0,
    job_id: int = JOB_ID,
) -> dict[str, int]:
    """Insert one ``task_instance`` row per task id (queued by ``job_id``); ``task_id -> id``."""
    ids: dict[str, int] = {}
    with _writing(target) as conn:
        for task_id in task_ids:
            result = conn.execute(
                insert(task_instance).values(
                    dag_run_id=dag_run_id,
                    dag_id=dag_id,
                    run_id=run_id,
                    task_id=task_id,
                    state=state,
                    try_number=try_number,
                    max_tries=max_tries,
                    queued_by_job_id=job_id,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            ids[task_id] = int(key[0])
    return ids


def find_run(engine: Engine, dag_id: str, run_id: str = RUN_ID) -> int | None:
    """The primary key of the run ``run_id`` of ``dag_id``, or None."""
    with begin_read(engine) as conn:
        found: int | None = conn.execute(
            select(dag_run.c.id).where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
        ).scalar_one_or_none()
    return found


def ti_row(engine: Engine, ti_id: int) -> RowMapping:
    """The whole ``task_instance`` row ``ti_id``."""
    with begin_read(engine) as conn:
        return conn.execute(select(task_instance).where(task_instance.c.id == ti_id)).mappings().one()


def ti_states_of_run(engine: Engine, dag_run_id: int) -> dict[str, str]:
    """``task_id -> state`` of the run ``dag_run_id`` (unmapped tasks)."""
    with begin_read(engine) as conn:
        rows = conn.execute(
            select(task_instance.c.task_id, task_instance.c.state).where(
                task_instance.c.dag_run_id == dag_run_id
            )
        )
        return {r.task_id: r.state for r in rows}


def ti_states(engine: Engine, dag_id: str) -> dict[tuple[str, str], str]:
    """``(run_id, task_id) -> state`` of every task instance of ``dag_id``."""
    with begin_read(engine) as conn:
        rows = conn.execute(
            select(task_instance.c.run_id, task_instance.c.task_id, task_instance.c.state).where(
                task_instance.c.dag_id == dag_id
            )
        )
        return {(r[0], r[1]): r[2] for r in rows}


def run_states(engine: Engine, dag_id: str) -> dict[str, str]:
    """``run_id -> state`` of every run of ``dag_id``."""
    with begin_read(engine) as conn:
        rows = conn.execute(select(dag_run.c.run_id, dag_run.c.state).where(dag_run.c.dag_id == dag_id))
        return {r[0]: r[1] for r in rows}


def xcom_text(engine: Engine, dag_run_id: int, task_id: str, key: str = "return_value") -> str | None:
    """The stored (JSON text) XCom ``key`` of ``task_id`` in run ``dag_run_id``, or None."""
    with begin_read(engine) as conn:
        value: str | None = conn.execute(
            select(xcom.c.value).where(
                xcom.c.dag_run_id == dag_run_id, xcom.c.task_id == task_id, xcom.c.key == key
            )
        ).scalar_one_or_none()
    return value
