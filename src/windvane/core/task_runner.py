"""The worker side of one try: claim it, run it in a forked child, record how it ended.

:func:`run_workload` is three steps, each usable alone:

1. :func:`claim_try` — one write transaction: the guarded update
   ``queued -> running`` (``id``, ``state='queued'``, ``try_number`` and
   ``queued_by_job_id`` must all match; otherwise the try is not run), plus
   what the context needs from the database (the previous successful run's
   data interval).
2. the try runs in a child forked from this (warm) process
   (:func:`windvane.core.task_process.run_forked` with
   :func:`windvane.core.task_child.child_main`), logging to
   ``{log_folder}/dag_id=<d>/run_id=<r>/task_id=<t>/attempt=<n>.log``.
   While it runs longer than ``heartbeat_seconds`` the worker records a
   heartbeat every ``heartbeat_seconds``.
3. :func:`finish_try` — one write transaction: the state (guarded by
   ``state='running'`` and ``try_number``), the XComs, and the downstream
   tasks a branch skipped.

If step 3's guard finds the row changed by someone else (a zombie sweep, a
clear), nothing is written and the event's ``state`` is None, as for a failed
claim: the try's outcome was not recorded.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Engine, select, update

from windvane.core.dag_loader import DagLoader
from windvane.core.execution import TryOutcome, failed_outcome, failure_state
from windvane.core.executors.base import TaskEvent, Workload
from windvane.core.states import TaskInstanceState
from windvane.core.store._time import from_db
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import dag_run
from windvane.core.store.tables import task_instance as ti_table
from windvane.core.store.xcoms import write_xcoms
from windvane.core.task_child import ChildJob, child_main, jinja_env_for, write_header
from windvane.core.task_process import ChildResult, run_forked
from windvane.errors import DagImportError, NotFoundError

#: Retry delay when the task's own is unknown (its DAG file failed to load): BaseOperator's default.
DEFAULT_RETRY_DELAY = timedelta(seconds=300)
_SKIPPABLE = (TaskInstanceState.NONE.value, TaskInstanceState.SCHEDULED.value)


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed try: when it started and what the context needs from the database."""

    start_date: datetime
    run_start_date: datetime | None
    prev_data_interval_start_success: datetime | None
    prev_data_interval_end_success: datetime | None


def log_path_for(log_folder: str, workload: Workload) -> str:
    """Where the log of this try goes (``workload.log_path`` when the scheduler set one)."""
    if workload.log_path:
        return workload.log_path
    parts = [f"dag_id={workload.dag_id}", f"run_id={workload.run_id}", f"task_id={workload.task_id}"]
    if workload.map_index >= 0:
        parts.append(f"map_index={workload.map_index}")
    return os.path.join(log_folder, *parts, f"attempt={workload.try_number}.log")


def claim_try(engine: Engine, workload: Workload, *, hostname: str, pid: int) -> Claim | None:
    """Move the try from ``queued`` to ``running`` if it is still ours; None if it is not."""
    now = _now()
    with begin_write(engine) as conn:
        claimed = conn.execute(
            update(ti_table)
            .where(
                ti_table.c.id == workload.ti_id,
                ti_table.c.state == TaskInstanceState.QUEUED.value,
                ti_table.c.try_number == workload.try_number,
                ti_table.c.queued_by_job_id == workload.job_id,
            )
            .values(
                state=TaskInstanceState.RUNNING.value,
                start_date=now,
                end_date=None,
                duration=None,
                hostname=hostname,
                pid=pid,
                last_heartbeat_at=now,
                updated_at=now,
                error=None,
                next_retry_at=None,
            )
        )
        if claimed.rowcount != 1:
            return None
        run = conn.execute(
            select(dag_run.c.logical_date, dag_run.c.start_date).where(dag_run.c.id == workload.dag_run_id)
        ).first()
        prev = None
        if run is not None:
            prev = conn.execute(
                select(dag_run.c.data_interval_start, dag_run.c.data_interval_end)
                .where(
                    dag_run.c.dag_id == workload.dag_id,
                    dag_run.c.state == "success",
                    dag_run.c.logical_date < run.logical_date,
                )
                .order_by(dag_run.c.logical_date.desc())
                .limit(1)
            ).first()
    return Claim(
        start_date=now,
        run_start_date=from_db(run.start_date) if run is not None else None,
        prev_data_interval_start_success=from_db(prev.data_interval_start) if prev is not None else None,
        prev_data_interval_end_success=from_db(prev.data_interval_end) if prev is not None else None,
    )


def record_heartbeat(engine: Engine, workload: Workload) -> bool:
    """Stamp ``last_heartbeat_at``; False when the try no longer owns its row."""
    with begin_write(engine) as conn:
        result = conn.execute(
            update(ti_table).where(*_running_guard(workload)).values(last_heartbeat_at=_now())
        )
    return result.rowcount == 1


def finish_try(
    engine: Engine, workload: Workload, outcome: TryOutcome, *, start_date: datetime | None = None
) -> TaskEvent:
    """Record ``outcome`` (state, XComs, skips) in one transaction; see the module doc."""
    end = _now()
    retry_at = end + outcome.next_retry_delay if outcome.next_retry_delay is not None else None
    if outcome.state is not TaskInstanceState.UP_FOR_RETRY:
        retry_at = None
    skipped: tuple[str, ...] = ()
    with begin_write(engine) as conn:
        if start_date is None:
            found = conn.execute(
                select(ti_table.c.start_date).where(ti_table.c.id == workload.ti_id)
            ).scalar()
            start_date = from_db(found) if found is not None else None
        duration = (end - start_date).total_seconds() if start_date is not None else None
        result = conn.execute(
            update(ti_table)
            .where(*_running_guard(workload))
            .values(
                state=outcome.state.value,
                end_date=end,
                duration=duration,
                error=outcome.error,
                next_retry_at=retry_at,
                updated_at=end,
            )
        )
        if result.rowcount != 1:
            return _event(
                workload,
                None,
                end,
                error="the task instance was changed elsewhere while the try ran; "
                f"its outcome ({outcome.state.value}) was not recorded",
            )
        write_xcoms(
            conn,
            workload.dag_run_id,
            workload.dag_id,
            workload.run_id,
            workload.task_id,
            outcome.xcoms,
            end,
            map_index=workload.map_index,
        )
        to_skip = sorted(set(outcome.skip_task_ids) - {workload.task_id})
        if to_skip:
            rows = conn.execute(
                update(ti_table)
                .where(
                    ti_table.c.dag_run_id == workload.dag_run_id,
                    ti_table.c.task_id.in_(to_skip),
                    ti_table.c.state.in_(_SKIPPABLE),
                )
                .values(state=TaskInstanceState.SKIPPED.value, end_date=end, updated_at=end)
                .returning(ti_table.c.task_id)
            ).scalars()
            skipped = tuple(sorted(set(rows)))
    return _event(workload, outcome.state.value, end, error=outcome.error, skipped=skipped, retry_at=retry_at)


def run_workload(
    workload: Workload,
    *,
    engine: Engine,
    loader: DagLoader,
    log_folder: str,
    hostname: str,
    heartbeat_seconds: float = 5.0,
    timeout_grace_seconds: float = 5.0,
    kill_grace_seconds: float = 5.0,
    on_running: Callable[[TaskEvent], None] | None = None,
) -> TaskEvent:
    """Claim, run and record one try; returns its final event (state None: not run / not recorded).

    ``on_running`` receives the ``running`` event right after the claim. A try
    whose ``execution_timeout`` passed by ``timeout_grace_seconds`` without
    ending is killed (SIGTERM, then SIGKILL ``kill_grace_seconds`` later).
    """
    try:
        dag = loader.get_dag(workload.fileloc, workload.dag_id)
        task = dag.get_task(workload.task_id)
        load_error = None
    except (DagImportError, NotFoundError) as exc:
        load_error = f"cannot load task {workload.task_id!r} of DAG {workload.dag_id!r}: {exc}"
    claim = claim_try(engine, workload, hostname=hostname, pid=os.getpid())
    if claim is None:
        return _event(
            workload, None, _now().timestamp(), error="the try was not claimed (no longer queued for it)"
        )
    if on_running is not None:
        on_running(_event(workload, TaskInstanceState.RUNNING.value, claim.start_date))
    log_path = log_path_for(log_folder, workload)
    write_header(log_path, workload, hostname)
    if load_error is not None:
        _append_log(log_path, load_error)
        return finish_try(
            engine, workload, unloadable_outcome(workload, load_error), start_date=claim.start_date
        )
    timeout = workload.execution_timeout
    if timeout is None and task.execution_timeout is not None:
        timeout = task.execution_timeout.total_seconds()
    job = ChildJob(
        workload=workload,
        dag=dag,
        task=task,
        log_path=log_path,
        db_url=engine.url.render_as_string(hide_password=False),
        hostname=hostname,
        prev_data_interval_start_success=claim.prev_data_interval_start_success,
        prev_data_interval_end_success=claim.prev_data_interval_end_success,
        run_start_date=claim.run_start_date,
        jinja_env=jinja_env_for(dag),
    )
    result = run_forked(
        lambda: child_main(job),
        deadline_seconds=None if timeout is None else timeout + timeout_grace_seconds,
        kill_grace_seconds=kill_grace_seconds,
        heartbeat_seconds=heartbeat_seconds,
        heartbeat=lambda: record_heartbeat(engine, workload),
    )
    outcome = _outcome_of(result, job, timeout)
    if result.payload is None or result.killed_because is not None:
        _append_log(log_path, f"{outcome.error}")
    return finish_try(engine, workload, outcome, start_date=claim.start_date)


def unloadable_outcome(workload: Workload, error: str) -> TryOutcome:
    """A failure without the task at hand (retried, if at all, after :data:`DEFAULT_RETRY_DELAY`)."""
    state = failure_state(workload.try_number, workload.max_tries)
    delay = DEFAULT_RETRY_DELAY if state is TaskInstanceState.UP_FOR_RETRY else None
    return TryOutcome(state=state, error=error, next_retry_delay=delay)


def _outcome_of(result: ChildResult, job: ChildJob, timeout: float | None) -> TryOutcome:
    if result.payload is not None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return TryOutcome.from_json(result.payload)
    task_id = job.workload.task_id
    if result.timed_out:
        error = f"task {task_id!r} timed out after {timeout or 0:g} s and was killed"
    elif result.killed_because is not None:
        error = f"task {task_id!r} was killed: {result.killed_because}"
    else:
        error = f"the process running task {task_id!r} {result.status} before reporting an outcome"
    return failed_outcome(job.task, job.workload.try_number, job.workload.max_tries, error)


def _running_guard(workload: Workload) -> tuple[ColumnElement[bool], ...]:
    return (
        ti_table.c.id == workload.ti_id,
        ti_table.c.state == TaskInstanceState.RUNNING.value,
        ti_table.c.try_number == workload.try_number,
    )


def _event(
    workload: Workload,
    state: str | None,
    at: datetime | float,
    *,
    error: str | None = None,
    skipped: tuple[str, ...] = (),
    retry_at: datetime | None = None,
) -> TaskEvent:
    return TaskEvent(
        ti_id=workload.ti_id,
        dag_run_id=workload.dag_run_id,
        dag_id=workload.dag_id,
        task_id=workload.task_id,
        try_number=workload.try_number,
        state=state,
        skipped_task_ids=skipped,
        at=at.timestamp() if isinstance(at, datetime) else at,
        error=error,
        next_retry_at=retry_at.timestamp() if retry_at is not None else None,
    )


def _append_log(log_path: str, line: str) -> None:
    with contextlib.suppress(OSError), open(log_path, "a", encoding="utf-8") as handle:
        handle.write(f"*** {line}\n")


def _now() -> datetime:
    return datetime.now(UTC)
