"""Whether a due time was missed, and the ``sla_miss_callback``'s arguments: pure, no database.

Meaning (Airflow 2's documented one): a task with ``sla`` must have *succeeded*
(``success`` or ``skipped``) by its due time; a run with a ``deadline`` must have
*succeeded* by its deadline. Still running, queued, not yet started, failed or
finished late at the due time: missed. A ``removed`` task is never late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Task-instance states that meet an SLA when reached by the due time.
SUCCEEDED = frozenset({"success", "skipped"})
#: Task-instance states never checked.
IGNORED = frozenset({"removed"})


def task_missed(state: str, end_date: datetime | None, due_at: datetime, now: datetime) -> bool:
    """True when a task instance in ``state`` (finished at ``end_date``) has missed ``due_at`` by ``now``."""
    if now < due_at or state in IGNORED:
        return False
    return not (state in SUCCEEDED and end_date is not None and end_date <= due_at)


def run_missed(state: str, end_date: datetime | None, deadline_at: datetime, now: datetime) -> bool:
    """True when a run in ``state`` (finished at ``end_date``) has missed ``deadline_at`` by ``now``."""
    if now < deadline_at:
        return False
    return not (state == "success" and end_date is not None and end_date <= deadline_at)


def finished_late(state: str, end_date: datetime | None, *, run: bool = False) -> datetime | None:
    """When a late task (``run``: a late run) finally succeeded, or None while it has not."""
    ok = state == "success" if run else state in SUCCEEDED
    return end_date if ok else None


def checked(run_type: str, *, check_backfill: bool) -> bool:
    """Whether runs of ``run_type`` are checked (backfill runs only when configured)."""
    return check_backfill or run_type != "backfill"


@dataclass(frozen=True, slots=True)
class SlaMiss:
    """One recorded miss, as ``sla_miss_callback`` receives it in ``slas`` (Airflow's ``SlaMiss``
    fields, plus ``run_id`` and ``due_at``)."""

    task_id: str
    dag_id: str
    run_id: str
    logical_date: datetime
    timestamp: datetime
    due_at: datetime
    description: str | None = None
    notification_sent: bool = False
    email_sent: bool = False

    @property
    def execution_date(self) -> datetime:
        """Airflow 2's name of ``logical_date``."""
        return self.logical_date

    @property
    def late_by(self) -> timedelta:
        """How late it was when detected."""
        return max(self.timestamp - self.due_at, timedelta(0))


@dataclass(frozen=True, slots=True)
class BlockingTi:
    """A task instance that had not succeeded in a run with a miss (``blocking_tis``)."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    state: str
    try_number: int
    logical_date: datetime
    start_date: datetime | None = None
    end_date: datetime | None = None

    @property
    def execution_date(self) -> datetime:
        """Airflow 2's name of ``logical_date``."""
        return self.logical_date


def task_list(items: Iterable[SlaMiss | BlockingTi]) -> str:
    """Airflow's ``task_list`` / ``blocking_task_list``: ``<task_id> on <logical date ISO>`` per line."""
    return "\n".join(f"{item.task_id} on {item.logical_date.isoformat()}" for item in items)
