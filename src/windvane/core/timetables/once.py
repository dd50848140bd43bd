"""``OnceTimetable``: ``schedule="@once"``, a single run at the start date."""

from __future__ import annotations

from pendulum import DateTime

from ._time import ensure_utc
from .base import DagRunInfo, DataInterval, TimeRestriction, Timetable


class OnceTimetable(Timetable):
    """One automated run, due at ``start_date`` whatever ``catchup`` says.

    Its data interval is the instant ``[start_date, start_date)``.  No start
    date, an ``end_date`` before it, or an earlier automated run: no run.
    """

    periodic = False
    can_be_scheduled = True

    @property
    def summary(self) -> str:
        return "@once"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None or restriction.earliest is None:
            return None
        run_after = restriction.earliest
        if restriction.latest is not None and run_after > restriction.latest:
            return None
        return DagRunInfo.exact(run_after)

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        return DataInterval.exact(ensure_utc(run_after, "run_after"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OnceTimetable) or NotImplemented

    def __hash__(self) -> int:
        return hash(OnceTimetable)
