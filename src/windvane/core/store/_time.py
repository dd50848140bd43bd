"""Datetimes in and out of the database: always timezone-aware UTC.

SQLite keeps no offset (SQLAlchemy stores the wall clock and reads it back
naive), so values are converted to UTC on the way in, naive values are
refused, and values read back are made aware again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from windvane.errors import StoreError


def to_db(value: datetime, what: str) -> datetime:
    """``value`` in UTC; :class:`StoreError` naming ``what`` when it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{what} must be a timezone-aware datetime, got naive {value.isoformat()}")
    return plain_utc(value)


def plain_utc(value: datetime) -> datetime:
    """Aware ``value`` as a plain ``datetime`` in UTC: a subclass (pendulum's ``DateTime``) costs
    psycopg's binary dumper ~1,000 times more (its arithmetic there is pendulum's, ~0.1 ms a value)."""
    utc = value.astimezone(UTC)
    if type(utc) is datetime:
        return utc
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )


@overload
def from_db(value: datetime) -> datetime: ...
@overload
def from_db(value: None) -> None: ...
def from_db(value: datetime | None) -> datetime | None:
    """A stored datetime as aware UTC (SQLite returns it naive, already in UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
