"""The database side of one try: claim it, stamp heartbeats, record how it ended.

Each function is one short write transaction, guarded so a try changes its
row only while it owns it:

* :func:`claim_try` — ``queued -> running`` where ``id``, ``state='queued'``,
  ``try_number`` and ``queued_by_job_id`` all match; otherwise the try must not
  run. It also reads what the context needs (the previous successful run's
  data interval, the run's start).
* :func:`record_heartbeat` — ``last_heartbeat_at`` where ``state='running'``
  and ``try_number`` match.
* :func:`finish_try` — the final state under the same guard, the XComs, and
  the downstream tasks a branch skipped. If the guard finds the row changed by
  someone else (a zombie sweep, a clear) nothing is written and the event's
  ``state`` is None, as for a failed claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Engine, select, update

from windvane.core.execution import TryOutcome
from windvane.core.executors.base import TaskEvent, Workload
from windvane.core.states import TaskInstanceState
from windvane.core.store._time import from_db
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import dag_run
from windvane.core.store.tables import task_instance as ti_table
from windvane.core.store.xcoms import write_xcoms

_SKIPPABLE = (TaskInstanceState.NONE.value, TaskInstanceState.SCHEDULED.value)


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed try: when it started and what the context needs from the database."""

    start_date: datetime
    run_start_date: datetime | None
    prev_data_interval_start_success: datetime | None
    prev_data_interval_end_success: datetime | None


def claim_try(engine: Engine, workload: Workload, *, hostname: str, pid: int) -> Claim | None:
    """Move the try from ``queued`` to ``running`` if it is still ours; None if it is not."""
    now = now_utc()
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
            update(ti_table).where(*_running_guard(workload)).values(last_heartbeat_at=now_utc())
        )
    return result.rowcount == 1


def finish_try(
    engine: Engine, workload: Workload, outcome: TryOutcome, *, start_date: datetime | None = None
) -> TaskEvent:
    """Record ``outcome`` (state, XComs, skips) in one transaction; see the module doc."""
    end = now_utc()
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
            return make_event(
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
    return make_event(
        workload, outcome.state.value, end, error=outcome.error, skipped=skipped, retry_at=retry_at
    )


def _running_guard(workload: Workload) -> tuple[ColumnElement[bool], ...]:
    return (
        ti_table.c.id == workload.ti_id,
        ti_table.c.state == TaskInstanceState.RUNNING.value,
        ti_table.c.try_number == workload.try_number,
    )


def make_event(
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


def now_utc() -> datetime:
    return datetime.now(UTC)
