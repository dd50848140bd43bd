"""Where a try stands now, read without SQLAlchemy: for executors whose workers report from afar.

An executor that hears from its workers through a broker (Celery) can miss a
report: a worker killed with its whole host, a result lost. These reads let it
tell, from the database, what became of a try it waits on:
:func:`try_position` (the row: state, try number, how it ended) and
:func:`ended_by_scheduler` (whether the scheduler itself ended the try — a
zombie or a run timeout — and so knows already). A worker uses
:func:`try_position` to tell a second delivery of a try it claimed already, and
a try's process :func:`holds_try` before its end-of-try callbacks (a try failed
over while its worker was cut off runs none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import Workload
from windvane.core.store.journal_sql import JournalKind, JournalReason
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Sql, read_time

_POSITION = Sql("SELECT state, try_number, error, next_retry_at FROM task_instance WHERE id = :ti_id")
_LAST_REASON = Sql(
    "SELECT reason FROM state_journal WHERE ti_id = :ti_id AND try_number = :try_number AND kind = :kind "
    "ORDER BY id DESC LIMIT 1"
)
#: Reasons of a try's end that the scheduler decided (it heard of the end without any executor).
_SCHEDULER_REASONS = frozenset({JournalReason.ZOMBIE.value, JournalReason.DAGRUN_TIMEOUT.value})


@dataclass(frozen=True, slots=True)
class TryPosition:
    """A task instance's row as it is now."""

    state: str
    try_number: int
    error: str | None
    next_retry_at: datetime | None


def try_position(db: RawDb, ti_id: int) -> TryPosition | None:
    """The task instance's state and try number now (None: the row is gone)."""
    rows = db.read_one(_POSITION, {"ti_id": ti_id})
    if not rows:
        return None
    state, try_number, error, retry_at = rows[0]
    return TryPosition(str(state), int(try_number), error, read_time(retry_at))


def ended_by_scheduler(db: RawDb, workload: Workload) -> bool:
    """Whether this try's last recorded end was the scheduler's own verdict (zombie, run timeout)."""
    params = {
        "ti_id": workload.ti_id,
        "try_number": workload.try_number,
        "kind": JournalKind.TRY_FINISHED.value,
    }
    rows = db.read_one(_LAST_REASON, params)
    return bool(rows) and rows[0][0] in _SCHEDULER_REASONS


def holds_try(db: RawDb, workload: Workload) -> bool:
    """Whether ``workload``'s try still holds its task instance: the row is running this try."""
    position = try_position(db, workload.ti_id)
    return (
        position is not None
        and position.state == TaskInstanceState.RUNNING.value
        and position.try_number == workload.try_number
    )
