"""Rows and workloads for task-runner and executor tests: dag_run / task_instance inserts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, RowMapping, insert, select

from windvane.core.executors.base import Executor
from windvane.core.model.workload import TaskEvent, TaskInstanceKey, Workload
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.tables import dag_run, task_instance, xcom

JOB_ID = 7
LOGICAL = datetime(2024, 1, 1, tzinfo=UTC)
FINAL_STATES = {"success", "failed", "up_for_retry", "skipped"}


def write_dag(folder: Path, body: str, name: str = "dag_file.py") -> str:
    path = folder / name
    path.write_text(body)
    return str(path)


def insert_run(
    engine: Engine,
    dag_id: str,
    run_id: str = "manual__2024-01-01",
    *,
    logical_date: datetime = LOGICAL,
    state: str = "running",
) -> int:
    with begin_write(engine) as conn:
        result = conn.execute(
            insert(dag_run).values(
                dag_id=dag_id,
                run_id=run_id,
                run_type="manual",
                logical_date=logical_date,
                data_interval_start=logical_date,
                data_interval_end=logical_date,
                state=state,
                start_date=logical_date,
                conf={},
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def insert_tis(
    engine: Engine,
    dag_run_id: int,
    dag_id: str,
    task_ids: Iterable[str],
    *,
    run_id: str = "manual__2024-01-01",
    state: str = "queued",
    try_number: int = 1,
    max_tries: int = 0,
    job_id: int = JOB_ID,
) -> dict[str, int]:
    ids: dict[str, int] = {}
    with begin_write(engine) as conn:
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


def workload(
    ti_id: int,
    dag_run_id: int,
    dag_id: str,
    task_id: str,
    fileloc: str,
    *,
    run_id: str = "manual__2024-01-01",
    try_number: int = 1,
    max_tries: int = 0,
    job_id: int = JOB_ID,
    **extra: Any,
) -> Workload:
    return Workload(
        key=TaskInstanceKey(ti_id, dag_run_id, dag_id, run_id, task_id),
        try_number=try_number,
        max_tries=max_tries,
        job_id=job_id,
        fileloc=fileloc,
        run_type="manual",
        logical_date=LOGICAL.isoformat(),
        data_interval_start=LOGICAL.isoformat(),
        data_interval_end=LOGICAL.isoformat(),
        **extra,
    )


def queued_try(
    engine: Engine, fileloc: str, dag_id: str, task_id: str, *, others: Iterable[str] = (), **kwargs: Any
) -> Workload:
    """One dag_run, a queued TI for ``task_id`` and TIs in state 'none' for ``others``."""
    run = run_id_of(engine, dag_id) or insert_run(engine, dag_id)
    ids = insert_tis(engine, run, dag_id, [task_id], **kwargs)
    if others:
        insert_tis(engine, run, dag_id, others, state="none", try_number=0)
    wl_kwargs = {k: v for k, v in kwargs.items() if k in ("try_number", "max_tries", "job_id")}
    return workload(ids[task_id], run, dag_id, task_id, fileloc, **wl_kwargs)


def run_id_of(engine: Engine, dag_id: str, run_id: str = "manual__2024-01-01") -> int | None:
    with begin_read(engine) as conn:
        found: int | None = conn.execute(
            select(dag_run.c.id).where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
        ).scalar_one_or_none()
    return found


def ti_row(engine: Engine, ti_id: int) -> RowMapping:
    with begin_read(engine) as conn:
        return conn.execute(select(task_instance).where(task_instance.c.id == ti_id)).mappings().one()


def ti_state_by_task(engine: Engine, dag_run_id: int) -> dict[str, str]:
    with begin_read(engine) as conn:
        rows = conn.execute(
            select(task_instance.c.task_id, task_instance.c.state).where(
                task_instance.c.dag_run_id == dag_run_id
            )
        )
        return {r.task_id: r.state for r in rows}


def xcom_value(engine: Engine, dag_run_id: int, task_id: str, key: str = "return_value") -> str | None:
    with begin_read(engine) as conn:
        value: str | None = conn.execute(
            select(xcom.c.value).where(
                xcom.c.dag_run_id == dag_run_id, xcom.c.task_id == task_id, xcom.c.key == key
            )
        ).scalar_one_or_none()
    return value


def wait_for(condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def collect_final(
    executor: Executor, count: int, *, timeout: float = 20.0
) -> tuple[list[TaskEvent], list[TaskEvent]]:
    """Drive ``executor`` until ``count`` final events arrived; returns (final, running) events."""
    final: list[TaskEvent] = []
    running: list[TaskEvent] = []
    deadline = time.monotonic() + timeout
    while len(final) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"only {len(final)} of {count} tries finished in {timeout} s: {final}")
        executor.wait(min(remaining, 1.0))
        for event in executor.events():
            (running if event.state == "running" else final).append(event)
    return final, running
