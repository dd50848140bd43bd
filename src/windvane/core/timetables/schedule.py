"""``create_timetable``: turn a DAG's ``schedule`` argument into a Timetable."""

from __future__ import annotations

import datetime as dt

from windvane.errors import ScheduleError

from ._time import TimezoneLike
from .base import Timetable
from .cron import CronDataIntervalTimetable
from .delta import DeltaDataIntervalTimetable
from .null import NullTimetable
from .once import OnceTimetable


def create_timetable(schedule: object, timezone: TimezoneLike | str) -> Timetable:
    """The timetable for *schedule*, validated.

    * ``None``: :class:`NullTimetable` (manual runs only);
    * ``"@once"``: :class:`OnceTimetable`;
    * a preset (``"@daily"`` ...) or a cron string: :class:`CronDataIntervalTimetable`
      read in *timezone* (the DAG ``start_date``'s zone);
    * a ``datetime.timedelta``: :class:`DeltaDataIntervalTimetable`;
    * a :class:`Timetable`: itself.

    Anything else raises :class:`~windvane.errors.ScheduleError` naming its
    type; a bad cron string raises :class:`~windvane.errors.CronExpressionError`.
    """
    timetable: Timetable
    if schedule is None:
        timetable = NullTimetable()
    elif isinstance(schedule, Timetable):
        timetable = schedule
    elif isinstance(schedule, str):
        if schedule.strip().lower() == "@once":
            timetable = OnceTimetable()
        else:
            timetable = CronDataIntervalTimetable(schedule, timezone)
    elif isinstance(schedule, dt.timedelta):
        timetable = DeltaDataIntervalTimetable(schedule)
    else:
        raise ScheduleError(
            "schedule must be None, a cron string, a preset, a timedelta or a Timetable, "
            f"not {type(schedule).__name__}"
        )
    timetable.validate()
    return timetable
