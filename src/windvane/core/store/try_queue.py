"""The scheduler's side of the try lifecycle: statements that move many tries at once.

:mod:`windvane.core.store.try_lifecycle` holds a worker's statements on its own try (heartbeat,
finish) and :mod:`windvane.core.store.try_claim` its claim; this module holds what the scheduler,
the instant executor and the CLI do to tries they do not run, each under the guard of the state
it expects (the running guard is :data:`~windvane.core.store.try_lifecycle.RUNNING_GUARD`, shared
with the worker's finish):

* :func:`queue_tries` — ``none/scheduled/up_for_retry/up_for_reschedule -> queued`` (the try
  number goes up, the queuing job is stamped); the CLI's ``tasks run`` passes the one state it
  saw. :func:`queue_statements` gives the same statements to run elsewhere (through SQLAlchemy).
* :func:`give_up_tries` — the scheduler's verdict on running tries whose heartbeats stopped
  (zombies): the same statement as a finish, under the running guard.
* :func:`finish_unclaimed` — the instant executor's finish of a queued try it never runs, under
  the queued guard.
* :func:`reset_orphaned_tries` — queued tries of stopped schedulers go back to ``scheduled``
  (their try never started: the bump is undone).

Every final state is journaled in the caller's :class:`~windvane.core.store.journal_sql.JournalBatch`,
from the rows the guarded update returned: an update that changed nothing journals nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import Workload
from windvane.core.store.journal_sql import TI_RETURNING_SQL, JournalBatch, JournalReason
from windvane.core.store.raw_sql import Sql, Tx, ids_params, in_list, list_params, match_ids
from windvane.core.store.try_lifecycle import RUNNING_GUARD

_S = TaskInstanceState
#: The states a try may be queued from by the scheduler.
QUEUEABLE = (_S.NONE, _S.SCHEDULED, _S.UP_FOR_RETRY, _S.UP_FOR_RESCHEDULE)
#: A queued try still ours: the claim's guard (with ``id = :ti_id``, or ``id IN (...)`` for many).
_QUEUED_OWNED = "state = :queued AND try_number = :try_number AND queued_by_job_id = :job_id"
_QUEUE = (
    "UPDATE task_instance SET state = :queued, try_number = try_number + 1, queued_dttm = :now, "
    "queued_by_job_id = :job_id, updated_at = :now, next_retry_at = NULL, error = NULL "
    "WHERE id {ids} AND state IN {states}"
)
_FINISH = Sql(
    "UPDATE task_instance SET state = :state, end_date = :end, duration = :duration, error = :error, "
    f"next_retry_at = :retry_at, updated_at = :end WHERE {RUNNING_GUARD} {TI_RETURNING_SQL}"
)
_FINISH_UNCLAIMED = (
    "UPDATE task_instance SET state = :state, next_retry_at = :retry_at, start_date = :end, "
    f"end_date = :end, duration = 0.0, updated_at = :end WHERE id {{ids}} AND {_QUEUED_OWNED} "
    + TI_RETURNING_SQL
)
_RESET_ORPHANED = (
    "UPDATE task_instance SET state = :scheduled, try_number = try_number - 1, queued_by_job_id = NULL, "
    "updated_at = :now WHERE state = :queued"
)
#: Ids per queue statement (SQLite allows 32,766 parameters; PostgreSQL 65,535).
QUEUE_CHUNK = 500


def queue_tries(
    tx: Tx,
    ti_ids: Sequence[int],
    job_id: int,
    now: datetime,
    *,
    from_states: Sequence[TaskInstanceState] = QUEUEABLE,
) -> int:
    """Queue the next try of each task instance still in one of ``from_states``: bump its try
    number and stamp the queuing job ``job_id``. How many rows changed."""
    statements = queue_statements(ti_ids, job_id, now, tx.dialect, from_states)
    return sum(tx.execute(sql, params) for sql, params in statements)


def queue_statements(
    ti_ids: Sequence[int],
    job_id: int,
    now: datetime,
    dialect: str,
    from_states: Sequence[TaskInstanceState] = QUEUEABLE,
) -> Iterator[tuple[Sql, dict[str, Any]]]:
    """The statements of :func:`queue_tries` on ``dialect`` with their parameters, one per
    :data:`QUEUE_CHUNK` ids."""
    states = tuple(s.value for s in from_states)
    params: dict[str, Any] = {"queued": _S.QUEUED.value, "now": now, "job_id": job_id}
    params.update(list_params("state", states))
    for start in range(0, len(ti_ids), QUEUE_CHUNK):
        chunk = ti_ids[start : start + QUEUE_CHUNK]
        yield queue_sql(len(chunk), len(states)), {**params, **ids_params(chunk, dialect)}


@lru_cache(maxsize=128)
def queue_sql(ids: int, states: int) -> Sql:
    """The queue statement for ``ids`` task instances and ``states`` allowed states."""
    return match_ids(_QUEUE.format(ids="{ids}", states=in_list("state", states)), ids)


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The scheduler's verdict on a running try it gave up on."""

    ti_id: int
    try_number: int
    state: TaskInstanceState
    next_retry_at: datetime | None


def give_up_tries(
    tx: Tx,
    tries: Sequence[GiveUp],
    error: str,
    now: datetime,
    journal: JournalBatch,
    *,
    reason: JournalReason = JournalReason.ZOMBIE,
) -> int:
    """Finish running tries nobody will finish (zombies) as a worker would, under the running
    guard; journaled in ``journal`` with ``reason``. How many rows changed."""
    rows = [
        {
            "ti_id": t.ti_id,
            "running": _S.RUNNING.value,
            "try_number": t.try_number,
            "state": t.state.value,
            "end": now,
            "duration": None,
            "error": error,
            "retry_at": t.next_retry_at,
        }
        for t in tries
    ]
    changed = tx.rows_many(_FINISH, rows)
    journal.add_tis(changed, reason=reason)
    return len(changed)


@dataclass(frozen=True, slots=True)
class UnclaimedFinish:
    """A queued try finished without running (the instant executor's)."""

    workload: Workload
    state: TaskInstanceState
    next_retry_at: datetime | None = None


def finish_unclaimed(
    tx: Tx, finishes: Sequence[UnclaimedFinish], end: datetime, journal: JournalBatch
) -> set[int]:
    """Finish queued tries in their given states, under the queued guard (start = end, duration 0);
    journaled in ``journal``. One statement per (state, retry time, try number, job) and
    :data:`QUEUE_CHUNK` tries. The ids of the task instances it finished (a try whose row
    changed before is not among them)."""
    groups: dict[tuple[TaskInstanceState, datetime | None, int, int], list[int]] = {}
    for f in finishes:
        key = (f.state, f.next_retry_at, f.workload.try_number, f.workload.job_id)
        groups.setdefault(key, []).append(f.workload.ti_id)
    changed: set[int] = set()
    for (state, retry_at, try_number, job_id), ti_ids in groups.items():
        params = {
            "queued": _S.QUEUED.value,
            "try_number": try_number,
            "job_id": job_id,
            "state": state.value,
            "retry_at": retry_at,
            "end": end,
        }
        for start in range(0, len(ti_ids), QUEUE_CHUNK):
            chunk = ti_ids[start : start + QUEUE_CHUNK]
            rows = tx.rows(_finish_unclaimed_sql(len(chunk)), {**params, **ids_params(chunk, tx.dialect)})
            journal.add_tis(rows)
            changed.update(int(row[0]) for row in rows)
    return changed


@lru_cache(maxsize=128)
def _finish_unclaimed_sql(ids: int) -> Sql:
    return match_ids(_FINISH_UNCLAIMED, ids)


def reset_orphaned_tries(tx: Tx, live_job_ids: Sequence[int], now: datetime) -> int:
    """Queued tries of jobs not in ``live_job_ids`` go back to scheduled, their try number bump
    undone (the try never started). How many rows changed."""
    text = _RESET_ORPHANED
    if live_job_ids:
        text += f" AND queued_by_job_id NOT IN {in_list('job', len(live_job_ids))}"
    params = {"scheduled": _S.SCHEDULED.value, "queued": _S.QUEUED.value, "now": now}
    return tx.execute(Sql(text), {**params, **list_params("job", live_job_ids)})
