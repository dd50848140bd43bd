"""``CronDataIntervalTimetable``: data intervals between consecutive cron fire times.

``schedule="0 2 * * *"`` creates one run per day covering ``[02:00, next 02:00)``
local time, created once the interval has ended.  The expression is read on the
wall clock of the timetable's zone (the DAG ``start_date``'s zone), so 02:00 in
Europe/Amsterdam stays 02:00 local across DST changes; results are UTC.

DST rules (Airflow 2.2+ behaviour):

* Schedules with a fixed hour (the hour field is not every hour, e.g.
  ``0 2 * * *``, ``0 */2 * * *``) follow the wall clock:

  - a local time the clocks skip (spring forward) fires when it would have
    been, i.e. shifted forward by the gap: ``02:00`` on 2024-03-31 in
    Europe/Amsterdam fires at 03:00 CEST (01:00 UTC);
  - a local time that occurs twice (fall back) fires once, in its *second*
    occurrence (Airflow's ``make_aware`` uses ``fold=1``): ``02:00`` on
    2024-10-27 fires at 02:00 CET (01:00 UTC).

  Intervals next to a change are therefore an hour shorter or longer.
* Schedules that fire in every hour (``*/15 * * * *``, ``30 * * * *``) follow
  elapsed time: the repeated hour is run twice and the skipped hour not at
  all, so every interval keeps its usual length.

The changes are assumed to move the clock by at most three hours at once, which
holds for every zone in current use.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pendulum import DateTime

from windvane.errors import ScheduleError

from ._cron_clock import CronClock
from ._cron_spec import parse_cron
from ._grid import GridTimetable
from ._time import (
    TimezoneLike,
    coerce_timezone,
    decode_timezone,
    encode_timezone,
    from_naive_utc,
    to_naive_utc,
)


class CronDataIntervalTimetable(GridTimetable):
    """Runs whose data intervals lie between consecutive fire times of a cron expression.

    *expression* is five fields (minute hour day-of-month month day-of-week) or
    a preset (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``,
    ``@quarterly``, ``@yearly``); *timezone* is the zone the expression is read
    in.  A bad expression raises :class:`~windvane.errors.CronExpressionError`
    naming the field at fault.
    """

    def __init__(self, expression: str, timezone: TimezoneLike | str) -> None:
        self._spec = parse_cron(expression)
        self._timezone = coerce_timezone(timezone)

    @cached_property
    def _clock(self) -> CronClock:
        # Built on first use: croniter parses the (already validated) expression, and a DAG file
        # being parsed only needs the timetable's summary and serialized form.
        return CronClock(self._spec, self._timezone)

    @property
    def expression(self) -> str:
        """The expression as given (a preset stays a preset)."""
        return self._spec.source

    @property
    def timezone(self) -> TimezoneLike:
        return self._timezone

    @property
    def summary(self) -> str:
        return self._spec.source

    def validate(self) -> None:
        pass  # the constructor already parsed and checked the expression

    def serialize(self) -> dict[str, Any]:
        return {"expression": self._spec.source, "timezone": encode_timezone(self._timezone)}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CronDataIntervalTimetable:
        try:
            expression, timezone = data["expression"], data["timezone"]
        except KeyError as exc:
            raise ScheduleError(f"serialized cron timetable lacks {exc.args[0]!r}: {data!r}") from None
        return cls(expression, decode_timezone(timezone))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CronDataIntervalTimetable):
            return NotImplemented
        return (self._spec.source, self._timezone) == (other._spec.source, other._timezone)

    def __hash__(self) -> int:
        return hash((self._spec.source, encode_timezone(self._timezone)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._spec.source!r}, {encode_timezone(self._timezone)!r})"

    def _next(self, current: DateTime) -> DateTime:
        return from_naive_utc(self._clock.next_after(to_naive_utc(current)))

    def _prev(self, current: DateTime) -> DateTime:
        return from_naive_utc(self._clock.prev_before(to_naive_utc(current)))

    def _align_to_next(self, current: DateTime) -> DateTime:
        # next(prev(t)) is t itself when t is a fire time, else the next one.
        return self._next(self._prev(current))

    def _align_to_prev(self, current: DateTime) -> DateTime:
        return self._prev(self._next(current))

    def _skip_to_latest(self, earliest: DateTime | None, now: DateTime) -> DateTime:
        # The latest interval that has ended by `now` (ending exactly at `now` counts).
        latest_start = self._prev(self._align_to_prev(now))
        if earliest is None:
            return latest_start
        return max(latest_start, self._align_to_next(earliest))
