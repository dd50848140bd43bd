"""Fire times of a cron expression as UTC instants, read on the wall clock of a time zone.

The schedule is the set F of instants at which the local wall clock matches the
expression; :meth:`CronClock.next_after` and :meth:`CronClock.prev_before` return
the nearest member of F on either side, so walking either way visits every
fire time once: consecutive fire times tile time with no gap or overlap.  Wall-clock times that
a DST change skips or repeats are mapped into F as Airflow does (see the
``windvane.core.timetables.cron`` module docstring for the rules).

All values here are naive ``datetime`` objects holding UTC, which keeps croniter
and the arithmetic free of time-zone magic; ``cron.py`` converts at the edges.
"""

from __future__ import annotations

import copy
import datetime as dt

from croniter import croniter

from ._cron_spec import CronSpec
from ._time import TimezoneLike

# No real zone changes its UTC offset by more than this at once (the largest
# DST shift in use is 2 h); a wider window only costs time near transitions.
_SLACK = dt.timedelta(hours=3)
_UTC = dt.UTC


class CronClock:
    """Walk the fire times of *spec* evaluated in *tz*."""

    def __init__(self, spec: CronSpec, tz: TimezoneLike) -> None:
        # Parsing dominates croniter's cost; copying a parsed template is ~4x cheaper.
        self._template = croniter(spec.expression, dt.datetime(2000, 1, 1), ret_type=dt.datetime)
        self._every_hour = spec.covers_every_hour
        self._tz = tz

    def next_after(self, current: dt.datetime) -> dt.datetime:
        """The first fire time strictly after *current* (naive UTC in and out)."""
        wall, offset = self._wall(current)
        first = self._cron(wall).get_next(dt.datetime)
        found = self._quick(first, current, after=True)
        if found is not None:
            return found
        # Near a DST change: gather every wall time whose instant could fall
        # after `current`, and keep the earliest such instant.
        it = self._cron(wall - _SLACK)
        best: dt.datetime | None = None
        while True:
            candidate = it.get_next(dt.datetime)
            if best is not None and candidate > best + offset + _SLACK:
                return best
            for instant in self._instants(candidate):
                if instant > current and (best is None or instant < best):
                    best = instant

    def prev_before(self, current: dt.datetime) -> dt.datetime:
        """The last fire time strictly before *current* (naive UTC in and out)."""
        wall, offset = self._wall(current)
        first = self._cron(wall).get_prev(dt.datetime)
        found = self._quick(first, current, after=False)
        if found is not None:
            return found
        it = self._cron(wall + _SLACK)
        best: dt.datetime | None = None
        while True:
            candidate = it.get_prev(dt.datetime)
            if best is not None and candidate < best + offset - _SLACK:
                return best
            for instant in self._instants(candidate):
                if instant < current and (best is None or instant > best):
                    best = instant

    def _quick(self, wall: dt.datetime, current: dt.datetime, *, after: bool) -> dt.datetime | None:
        """The answer from croniter's neighbour of `current`, if no DST change is near either."""
        instants = self._instants(wall)
        if len(instants) != 1:
            return None
        instant = instants[0]
        if (instant > current) != after or instant == current:
            return None
        if self._offset_changes_near(current) or self._offset_changes_near(instant):
            return None
        return instant

    def _cron(self, start: dt.datetime) -> croniter[dt.datetime]:
        it = copy.copy(self._template)
        it.set_current(start, force=True)
        return it

    def _wall(self, instant: dt.datetime) -> tuple[dt.datetime, dt.timedelta]:
        """Local wall-clock time (naive) and UTC offset at *instant*."""
        local = instant.replace(tzinfo=_UTC).astimezone(self._tz)
        return local.replace(tzinfo=None, fold=0), _offset(local)

    def _offset_changes_near(self, instant: dt.datetime) -> bool:
        before = instant.replace(tzinfo=_UTC) - _SLACK
        after = instant.replace(tzinfo=_UTC) + _SLACK
        return _offset(before.astimezone(self._tz)) != _offset(after.astimezone(self._tz))

    def _instants(self, wall: dt.datetime) -> list[dt.datetime]:
        """The members of F that the local wall-clock time *wall* stands for."""
        early = self._tz.utcoffset(wall.replace(fold=0))
        late = self._tz.utcoffset(wall.replace(fold=1))
        assert early is not None and late is not None  # pendulum zones always have an offset
        if early == late:
            return [wall - early]
        if early > late:
            # Repeated wall time (clocks went back): every-hour schedules fire in
            # both passes, others only in the second (Airflow's make_aware fold=1).
            return [wall - early, wall - late] if self._every_hour else [wall - late]
        # Skipped wall time (clocks went forward): every-hour schedules skip it,
        # others fire when it "would have been", i.e. shifted forward by the gap.
        return [] if self._every_hour else [wall - early]


def _offset(local: dt.datetime) -> dt.timedelta:
    offset = local.utcoffset()
    assert offset is not None
    return offset
