"""The database side of one try: claim it, stamp heartbeats, record how it ended.

Each function is one short write transaction on a
:class:`~windvane.core.store.raw.RawDb` (plain SQL, no SQLAlchemy: workers
run these for every try; the claim and a heartbeat are one statement each),
guarded so a try changes its row only while it owns it:

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

These statements are the only ones that move a try through ``running``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Sql, Tx, read_time
from windvane.core.store.xcom_sql import replace_xcoms

_S = TaskInstanceState
#: The claim, and what the context needs: the run's start and the data interval of the DAG's
#: latest successful run before this one. One statement: one round trip, one row iff claimed.
_PREVIOUS_SUCCESS = (
    "SELECT p.{column} FROM dag_run p WHERE p.dag_id = :dag_id AND p.state = :success "
    "AND p.logical_date < (SELECT r.logical_date FROM dag_run r WHERE r.id = :dag_run_id) "
    "ORDER BY p.logical_date DESC LIMIT 1"
)
_CLAIM = Sql(
    "UPDATE task_instance SET state = :running, start_date = :now, end_date = NULL, duration = NULL, "
    "hostname = :hostname, pid = :pid, last_heartbeat_at = :now, updated_at = :now, error = NULL, "
    "next_retry_at = NULL "
    "WHERE id = :ti_id AND state = :queued AND try_number = :try_number AND queued_by_job_id = :job_id "
    "RETURNING (SELECT r.start_date FROM dag_run r WHERE r.id = :dag_run_id), "
    f"({_PREVIOUS_SUCCESS.format(column='data_interval_start')}), "
    f"({_PREVIOUS_SUCCESS.format(column='data_interval_end')})"
)
_RUNNING_GUARD = "id = :ti_id AND state = :running AND try_number = :try_number"
_HEARTBEAT = Sql(f"UPDATE task_instance SET last_heartbeat_at = :now WHERE {_RUNNING_GUARD} RETURNING id")
_START_DATE = Sql("SELECT start_date FROM task_instance WHERE id = :ti_id")
_FINISH = Sql(
    "UPDATE task_instance SET state = :state, end_date = :end, duration = :duration, error = :error, "
    f"next_retry_at = :retry_at, updated_at = :end WHERE {_RUNNING_GUARD}"
)
_SKIP = Sql(
    "UPDATE task_instance SET state = :skipped, end_date = :end, updated_at = :end "
    "WHERE dag_run_id = :dag_run_id AND task_id = :task_id AND state IN (:none, :scheduled)"
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed try: when it started and what the context needs from the database."""

    start_date: datetime
    run_start_date: datetime | None
    prev_data_interval_start_success: datetime | None
    prev_data_interval_end_success: datetime | None


def claim_try(db: RawDb, workload: Workload, *, hostname: str, pid: int) -> Claim | None:
    """Move the try from ``queued`` to ``running`` if it is still ours; None if it is not."""
    now = now_utc()
    params = {
        **_guard(workload),
        "queued": _S.QUEUED.value,
        "job_id": workload.job_id,
        "now": now,
        "hostname": hostname,
        "pid": pid,
        "dag_id": workload.dag_id,
        "dag_run_id": workload.dag_run_id,
        "success": DagRunState.SUCCESS.value,
    }

    rows = db.write_one(_CLAIM, params)
    if not rows:
        return None
    run_start, prev_start, prev_end = rows[0]
    return Claim(now, read_time(run_start), read_time(prev_start), read_time(prev_end))


def record_heartbeat(db: RawDb, workload: Workload) -> bool:
    """Stamp ``last_heartbeat_at``; False when the try no longer owns its row."""
    return bool(db.write_one(_HEARTBEAT, {**_guard(workload), "now": now_utc()}))


def finish_try(
    db: RawDb, workload: Workload, outcome: TryOutcome, *, start_date: datetime | None = None
) -> TaskEvent:
    """Record ``outcome`` (state, XComs, skips) in one transaction; see the module doc."""
    end = now_utc()
    retry_at = end + outcome.next_retry_delay if outcome.next_retry_delay is not None else None
    if outcome.state is not _S.UP_FOR_RETRY:
        retry_at = None

    def finish(tx: Tx) -> TaskEvent:
        started = start_date
        if started is None:
            found = tx.first(_START_DATE, {"ti_id": workload.ti_id})
            started = read_time(found[0]) if found is not None else None
        params = {
            **_guard(workload),
            "state": outcome.state.value,
            "end": end,
            "duration": (end - started).total_seconds() if started is not None else None,
            "error": outcome.error,
            "retry_at": retry_at,
        }
        if tx.execute(_FINISH, params) != 1:
            return make_event(
                workload,
                None,
                end,
                error="the task instance was changed elsewhere while the try ran; "
                f"its outcome ({outcome.state.value}) was not recorded",
            )
        replace_xcoms(
            tx,
            workload.dag_run_id,
            workload.dag_id,
            workload.run_id,
            workload.task_id,
            outcome.xcoms,
            end,
            map_index=workload.map_index,
        )
        skipped = _skip(tx, workload, sorted(set(outcome.skip_task_ids) - {workload.task_id}), end)
        return make_event(
            workload, outcome.state.value, end, error=outcome.error, skipped=skipped, retry_at=retry_at
        )

    return db.write(finish)


def _skip(tx: Tx, workload: Workload, task_ids: list[str], end: datetime) -> tuple[str, ...]:
    """Skip those of ``task_ids`` (every map index) not started yet; the ids that were."""
    params: dict[str, Any] = {
        "skipped": _S.SKIPPED.value,
        "none": _S.NONE.value,
        "scheduled": _S.SCHEDULED.value,
        "dag_run_id": workload.dag_run_id,
        "end": end,
    }
    return tuple(t for t in task_ids if tx.execute(_SKIP, {**params, "task_id": t}) > 0)


def _guard(workload: Workload) -> dict[str, Any]:
    return {"ti_id": workload.ti_id, "running": _S.RUNNING.value, "try_number": workload.try_number}


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
        key=workload.key,
        try_number=workload.try_number,
        state=state,
        skipped_task_ids=skipped,
        at=at.timestamp() if isinstance(at, datetime) else at,
        error=error,
        next_retry_at=retry_at.timestamp() if retry_at is not None else None,
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
