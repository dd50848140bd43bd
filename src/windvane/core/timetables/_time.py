"""Small time helpers shared by the timetables: UTC coercion and time-zone handling.

Everything a timetable returns is a pendulum ``DateTime`` in UTC; these helpers
are the one place that turns user input (any aware ``datetime``, a zone name, a
stdlib ``timezone``) into that form, and that refuses naive datetimes.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pendulum
from pendulum import DateTime, FixedTimezone, Timezone

from windvane.errors import ScheduleError

TimezoneLike = Timezone | FixedTimezone
"""A pendulum time zone: a named IANA zone or a fixed UTC offset."""

UTC: Timezone = pendulum.UTC
EPOCH: DateTime = pendulum.datetime(1970, 1, 1, tz=UTC)


def ensure_utc(value: dt.datetime, what: str) -> DateTime:
    """Return *value* as a pendulum ``DateTime`` in UTC; *what* names it in errors."""
    if not isinstance(value, dt.datetime):
        raise ScheduleError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    if isinstance(value, DateTime):
        return value.in_timezone(UTC)
    return pendulum.instance(value).in_timezone(UTC)


def optional_utc(value: dt.datetime | None, what: str) -> DateTime | None:
    """Like :func:`ensure_utc`, letting ``None`` through."""
    return None if value is None else ensure_utc(value, what)


def to_naive_utc(value: DateTime) -> dt.datetime:
    """A plain naive ``datetime`` holding the UTC wall clock of *value* (for croniter and arithmetic)."""
    utc = value.in_timezone(UTC)
    return dt.datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond)


def from_naive_utc(value: dt.datetime) -> DateTime:
    """Inverse of :func:`to_naive_utc`."""
    return pendulum.instance(value.replace(tzinfo=None, fold=0), tz=UTC)


def coerce_timezone(value: object) -> TimezoneLike:
    """Accept a pendulum zone, a zone name, a ``zoneinfo.ZoneInfo`` or a fixed ``datetime.timezone``."""
    if isinstance(value, Timezone | FixedTimezone):
        return value
    if isinstance(value, zoneinfo.ZoneInfo):
        value = value.key
    if isinstance(value, str):
        try:
            return pendulum.timezone(value)
        except (ValueError, KeyError) as exc:  # InvalidTimezone / ZoneInfoNotFoundError
            raise ScheduleError(f"unknown time zone {value!r}") from exc
    if isinstance(value, dt.timezone):
        offset = value.utcoffset(None)
        return UTC if not offset else FixedTimezone(int(offset.total_seconds()))
    raise ScheduleError(f"timezone must be a pendulum Timezone or a zone name, not {type(value).__name__}")


def encode_timezone(tz: TimezoneLike) -> str | int:
    """JSON form of a zone: its IANA name, or its offset in seconds for a fixed zone."""
    if isinstance(tz, FixedTimezone):
        return int(tz.offset)
    return tz.name


def decode_timezone(data: object) -> TimezoneLike:
    """Inverse of :func:`encode_timezone`."""
    if isinstance(data, bool) or not isinstance(data, str | int):
        raise ScheduleError(f"a serialized time zone must be a name or an offset in seconds, not {data!r}")
    if isinstance(data, int):
        return FixedTimezone(data)
    return coerce_timezone(data)
