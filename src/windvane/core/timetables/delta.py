"""``DeltaDataIntervalTimetable``: fixed-length data intervals stepped from the start date.

``schedule=timedelta(hours=6)`` creates runs over ``[start_date,
start_date + 6h)``, ``[start_date + 6h, start_date + 12h)`` and so on.  Steps are
elapsed time, so DST changes do not move them (Airflow: "time deltas ... do
not adjust for daylight savings time").

With ``catchup=False`` the first run is the latest step complete at ``now`` on
the grid anchored at ``start_date``.  (Airflow rounds ``now`` down to a multiple
of the delta since the Unix epoch instead, which leaves the start date's grid
whenever the two disagree; we keep the grid.  Without a start date we fall
back to the epoch grid.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pendulum import DateTime

from windvane.errors import ScheduleError

from ._grid import GridTimetable
from ._time import EPOCH, to_naive_utc


class DeltaDataIntervalTimetable(GridTimetable):
    """Runs covering consecutive steps of *delta*, which must be positive."""

    def __init__(self, delta: dt.timedelta) -> None:
        if not isinstance(delta, dt.timedelta):
            raise ScheduleError(f"delta must be a datetime.timedelta, not {type(delta).__name__}")
        # A plain timedelta: pendulum.Duration carries calendar units we do not honour.
        self._delta = dt.timedelta(days=delta.days, seconds=delta.seconds, microseconds=delta.microseconds)
        self.validate()

    @property
    def delta(self) -> dt.timedelta:
        return self._delta

    @property
    def summary(self) -> str:
        return str(self._delta)

    def validate(self) -> None:
        if self._delta <= dt.timedelta(0):
            raise ScheduleError(f"schedule interval must be positive, not {self._delta!r}")

    def serialize(self) -> dict[str, Any]:
        delta = self._delta
        return {"days": delta.days, "seconds": delta.seconds, "microseconds": delta.microseconds}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DeltaDataIntervalTimetable:
        try:
            return cls(
                dt.timedelta(days=data["days"], seconds=data["seconds"], microseconds=data["microseconds"])
            )
        except (KeyError, TypeError) as exc:
            raise ScheduleError(f"bad serialized delta timetable {data!r}: {exc}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeltaDataIntervalTimetable):
            return NotImplemented
        return self._delta == other._delta

    def __hash__(self) -> int:
        return hash(self._delta)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._delta!r})"

    def _next(self, current: DateTime) -> DateTime:
        return current + self._delta

    def _prev(self, current: DateTime) -> DateTime:
        return current - self._delta

    # Every instant is a boundary: the grid is wherever the previous run ended.
    def _align_to_next(self, current: DateTime) -> DateTime:
        return current

    def _align_to_prev(self, current: DateTime) -> DateTime:
        return current

    def _skip_to_latest(self, earliest: DateTime | None, now: DateTime) -> DateTime:
        anchor = EPOCH if earliest is None else earliest
        steps = (to_naive_utc(now) - to_naive_utc(anchor)) // self._delta
        latest_end = anchor + self._delta * steps
        latest_start = latest_end - self._delta
        return latest_start if earliest is None else max(latest_start, earliest)
