"""Schedules and data intervals: when a DAG runs, and which data each run covers.

Airflow 2.2+ semantics: a run covers ``[data_interval_start, data_interval_end)``,
its ``logical_date`` is the start, and it becomes due at the end.  All
datetimes are pendulum ``DateTime`` objects in UTC.

The lowest floor: imports nothing else in core (only ``windvane.errors``).
"""

from __future__ import annotations

from .base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from .cron import CronDataIntervalTimetable
from .delta import DeltaDataIntervalTimetable
from .null import NullTimetable
from .once import OnceTimetable
from .ops import due, interval_for, iter_intervals, next_run_info
from .schedule import create_timetable
from .serialization import timetable_from_dict, timetable_to_dict

__all__ = [
    "CronDataIntervalTimetable",
    "DagRunInfo",
    "DataInterval",
    "DeltaDataIntervalTimetable",
    "NullTimetable",
    "OnceTimetable",
    "TimeRestriction",
    "Timetable",
    "create_timetable",
    "due",
    "interval_for",
    "iter_intervals",
    "next_run_info",
    "timetable_from_dict",
    "timetable_to_dict",
]
