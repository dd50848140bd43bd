"""``NullTimetable``: ``schedule=None``, the DAG only runs when triggered."""

from __future__ import annotations

from pendulum import DateTime

from ._time import ensure_utc
from .base import DagRunInfo, DataInterval, TimeRestriction, Timetable


class NullTimetable(Timetable):
    """Never schedules a run; a manual run covers the instant it was triggered."""

    periodic = False
    can_be_scheduled = False

    @property
    def summary(self) -> str:
        return "None"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        return None

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        return DataInterval.exact(ensure_utc(run_after, "run_after"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NullTimetable) or NotImplemented

    def __hash__(self) -> int:
        return hash(NullTimetable)
