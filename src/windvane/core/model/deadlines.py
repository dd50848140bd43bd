"""When a run is due, and the SLA and deadline times that follow from it: pure functions.

A run's *due time* is the moment it was meant to start:

* a scheduled run: the end of its data interval (Airflow 2's documented SLA base);
* a manual or backfill run: the later of the end of its data interval and the
  moment the run was created (an old interval backfilled today is not late at birth;
  a manual run of the current interval is due when it is triggered).

A task with ``sla`` must have succeeded (or been skipped) by ``due + sla``; a DAG with
``deadline`` must have a successful run by ``due + deadline``. These are stored when
the run and its task instances are created (``dag_run.deadline_at``,
``task_instance.sla_due_at``) and read by whoever checks them (the alerting plug-in).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: The run type whose due time is its data interval's end, whenever it was created.
SCHEDULED = "scheduled"


def run_due_at(
    run_type: str, logical_date: datetime, interval_end: datetime | None, created_at: datetime
) -> datetime:
    """The due time of a run of ``run_type`` (see the module doc); ``logical_date`` stands in
    for a missing interval end."""
    end = interval_end if interval_end is not None else logical_date
    if run_type == SCHEDULED:
        return end
    return max(end, created_at)


def after(due: datetime, seconds: float | None) -> datetime | None:
    """``due`` plus ``seconds`` (an ``sla`` or ``deadline``) in UTC, or None when there is none."""
    if seconds is None:
        return None
    return (due + timedelta(seconds=seconds)).astimezone(UTC)
