"""A queued try that will never be claimed: failed without running, as Airflow fails it.

Two writers, two guards:

* :func:`fail_unclaimed_try` — a worker whose claim failed on an error that retrying cannot cure
  (a constraint, a programming error: not a dropped connection or a lock) fails the try it was
  sent, under the claim's *queued guard* (``state='queued'``, ``try_number``, ``queued_by_job_id``),
  so the scheduler sees it end instead of waiting on a try nobody runs. Airflow does the same when
  its executor reports a try failed that the database still shows queued.
* :func:`time_out_queued_tries` — the scheduler's ``[scheduler] task_queued_timeout_seconds`` (Airflow's
  ``task_queued_timeout``): a try queued longer than that is failed (``up_for_retry`` while it has
  tries left), whatever left it there (a worker that failed before its claim, a broker that lost
  the message, an executor that never sent it). Guarded by ``state='queued'`` and ``try_number``:
  a worker that claims the try first wins, and a late worker's claim of a timed-out try fails.

Both journal the end with their :class:`~windvane.core.store.journal_sql.JournalReason`, so the
task's ``on_failure_callback`` / ``on_retry_callback`` run from the journal (its own process
never started).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.journal_sql import TI_RETURNING_SQL, JournalBatch, JournalReason
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Sql, Tx
from windvane.core.store.try_claim import now_utc

_S = TaskInstanceState
_ENDED = (
    "UPDATE task_instance SET state = :state, start_date = :end, end_date = :end, duration = 0.0, "
    "error = :error, next_retry_at = :retry_at, updated_at = :end "
)
_FAIL_UNCLAIMED = Sql(
    _ENDED + "WHERE id = :ti_id AND state = :queued AND try_number = :try_number "
    f"AND queued_by_job_id = :job_id {TI_RETURNING_SQL}"
)
_TIME_OUT_QUEUED = Sql(
    _ENDED + f"WHERE id = :ti_id AND state = :queued AND try_number = :try_number {TI_RETURNING_SQL}"
)


def fail_unclaimed_try(db: RawDb, workload: Workload, outcome: TryOutcome) -> TaskEvent:
    """Record ``outcome`` (a failure: ``failed`` or ``up_for_retry``) for the try ``workload`` that
    could not be claimed, if it is still queued for it; journaled as ``claim_failed``. The event's
    state is None when the row was no longer this try's (nothing written)."""
    end = now_utc()
    retry_at = _retry_at(outcome, end)

    def fail(tx: Tx) -> TaskEvent:
        params = {
            "ti_id": workload.ti_id,
            "queued": _S.QUEUED.value,
            "try_number": workload.try_number,
            "job_id": workload.job_id,
            **_ending(outcome.state, outcome.error, retry_at, end),
        }
        changed = tx.rows(_FAIL_UNCLAIMED, params)
        if not changed:
            return _event(workload, None, end, "the try was not claimed (no longer queued for it)", None)
        journal = JournalBatch(end)
        journal.add_tis(changed, reason=JournalReason.CLAIM_FAILED)
        journal.write(tx)
        return _event(workload, outcome.state.value, end, outcome.error, retry_at)

    return db.write(fail)


def time_out_queued_tries(
    tx: Tx,
    tries: Sequence[tuple[int, int, str, datetime | None]],
    error: str,
    now: datetime,
    journal: JournalBatch,
) -> set[int]:
    """Fail queued tries (ti id, try number, new state, next retry time) the scheduler stopped
    waiting for, each only if it is still queued with that try number; journaled in ``journal``
    as ``queued_timeout``. The ids of the task instances it failed."""
    rows = [
        {
            "ti_id": ti_id,
            "queued": _S.QUEUED.value,
            "try_number": try_number,
            **_ending(state, error, at, now),
        }
        for ti_id, try_number, state, at in tries
    ]
    changed = tx.rows_many(_TIME_OUT_QUEUED, rows)
    journal.add_tis(changed, reason=JournalReason.QUEUED_TIMEOUT)
    return {int(row[0]) for row in changed}


def _retry_at(outcome: TryOutcome, end: datetime) -> datetime | None:
    if outcome.state is not _S.UP_FOR_RETRY or outcome.next_retry_delay is None:
        return None
    return end + outcome.next_retry_delay


def _ending(
    state: TaskInstanceState | str, error: str | None, retry_at: datetime | None, end: datetime
) -> dict[str, Any]:
    value = state.value if isinstance(state, TaskInstanceState) else state
    return {"state": value, "error": error, "retry_at": retry_at, "end": end}


def _event(
    workload: Workload, state: str | None, end: datetime, error: str | None, retry_at: datetime | None
) -> TaskEvent:
    return TaskEvent(
        key=workload.key,
        try_number=workload.try_number,
        state=state,
        at=end.timestamp(),
        error=error,
        next_retry_at=retry_at.timestamp() if retry_at is not None else None,
    )
