"""Shared scheduling logic of the periodic timetables (cron and timedelta).

Both lay a grid of boundaries over time; each run covers one cell of the
grid, ``[boundary, next boundary)``, and becomes due at the cell's end.  The
subclass supplies the grid (:meth:`_next`, :meth:`_prev`, the two alignments
and the catch-up skip); this class turns it into runs as Airflow's
``_DataIntervalTimetable`` does.
"""

from __future__ import annotations

from abc import abstractmethod

from pendulum import DateTime

from ._time import ensure_utc
from .base import DagRunInfo, DataInterval, TimeRestriction, Timetable


class GridTimetable(Timetable):
    """Base of the periodic built-in timetables; not meant for users to subclass."""

    periodic = True
    can_be_scheduled = True

    @abstractmethod
    def _next(self, current: DateTime) -> DateTime:
        """The first boundary strictly after *current*."""

    @abstractmethod
    def _prev(self, current: DateTime) -> DateTime:
        """The last boundary strictly before *current*."""

    @abstractmethod
    def _align_to_next(self, current: DateTime) -> DateTime:
        """*current* if it is a boundary, else the next boundary."""

    @abstractmethod
    def _align_to_prev(self, current: DateTime) -> DateTime:
        """*current* if it is a boundary, else the previous boundary."""

    @abstractmethod
    def _skip_to_latest(self, earliest: DateTime | None, now: DateTime) -> DateTime:
        """Start of the latest interval complete at *now*, but not before *earliest* (catchup=False)."""

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        earliest = restriction.earliest
        if not restriction.catchup:
            earliest = self._skip_to_latest(earliest, restriction.require_now(self))
        elif earliest is not None:
            earliest = self._align_to_next(earliest)
        if last_automated_data_interval is None:
            if earliest is None:
                return None
            start = earliest
        else:
            # Aligning matters when the schedule changed since the last run.
            start = self._align_to_prev(last_automated_data_interval.end)
            if earliest is not None:
                start = max(start, earliest)
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start=start, end=self._next(start))

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        # The latest complete period: a manual run at 01:00 of a daily
        # schedule covers yesterday 00:00 to today 00:00.
        end = self._align_to_prev(ensure_utc(run_after, "run_after"))
        return DataInterval(start=self._prev(end), end=end)
