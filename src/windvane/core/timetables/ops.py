"""Pure helpers the scheduler, backfill and ``dags test`` call on a DAG's timetable.

All take the current time as an argument; none reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterator

from pendulum import DateTime

from windvane.errors import ScheduleError

from ._time import ensure_utc, optional_utc
from .base import DagRunInfo, DataInterval, TimeRestriction, Timetable


def next_run_info(
    timetable: Timetable,
    *,
    start_date: DateTime | None,
    end_date: DateTime | None,
    catchup: bool,
    last_interval: DataInterval | None,
    now: DateTime,
) -> DagRunInfo | None:
    """The next automated run of a DAG, or ``None`` if it will never have one.

    *last_interval* is the data interval of the latest automated run (``None``
    before the first).  With *catchup* the result is the interval right after
    it, however old; without, it is never older than the latest interval
    complete at *now*.  No run has a logical date after *end_date*.

    The run returned may not be due yet: create it only once :func:`due` says
    so (``info.run_after <= now``); until then ``info.run_after`` is when to
    look again.
    """
    restriction = TimeRestriction(earliest=start_date, latest=end_date, catchup=catchup, now=now)
    return timetable.next_dagrun_info(last_automated_data_interval=last_interval, restriction=restriction)


def due(info: DagRunInfo | None, now: DateTime) -> bool:
    """True if *info* is a run the scheduler should create at *now*."""
    return info is not None and info.run_after <= ensure_utc(now, "now")


def iter_intervals(timetable: Timetable, *, start: DateTime, end: DateTime) -> Iterator[DataInterval]:
    """Every scheduled data interval whose logical date lies in ``[start, end]`` (for backfill).

    Intervals follow the timetable's grid: cron intervals start on fire times
    at or after *start*; timedelta intervals step from *start*.  ``@once``
    gives the single instant *start*; a manual-only timetable gives nothing.
    """
    start_utc, end_utc = ensure_utc(start, "start"), ensure_utc(end, "end")
    if start_utc > end_utc:
        raise ScheduleError(f"backfill start {start_utc.isoformat()} is after its end {end_utc.isoformat()}")
    restriction = TimeRestriction(earliest=start_utc, latest=end_utc, catchup=True)
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    while info is not None:
        yield info.data_interval
        previous = info
        info = timetable.next_dagrun_info(
            last_automated_data_interval=info.data_interval, restriction=restriction
        )
        if info is not None and info.logical_date <= previous.logical_date:
            raise ScheduleError(
                f"{timetable!r} did not move forward: after {previous.logical_date.isoformat()} "
                f"it returned {info.logical_date.isoformat()}"
            )


def interval_for(
    timetable: Timetable, logical_date: DateTime, start_date: DateTime | None = None
) -> DataInterval:
    """The data interval of a run at *logical_date* (``dags test``, runs triggered for a date).

    The interval starts at *logical_date* (a logical date is always its
    interval's start) and ends at the timetable's next boundary: for a cron
    schedule the next fire time, for a timedelta ``logical_date + delta``.  A
    date on the grid so gets exactly its scheduled interval.  Non-periodic
    timetables give the instant ``[logical_date, logical_date)``.  A
    *logical_date* before *start_date* is refused, as Airflow does.
    """
    logical = ensure_utc(logical_date, "logical_date")
    start = optional_utc(start_date, "start_date")
    if start is not None and logical < start:
        raise ScheduleError(
            f"logical date {logical.isoformat()} is before the DAG's start_date {start.isoformat()}"
        )
    restriction = TimeRestriction(earliest=logical, latest=None, catchup=True)
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    if info is None:
        return DataInterval.exact(logical)
    if info.logical_date == logical:
        return info.data_interval
    return DataInterval(start=logical, end=info.logical_date)
