"""PostgreSQL connections bind pendulum's datetimes as plain ones.

psycopg dumps a ``datetime`` parameter in binary by subtracting its epoch from it;
for pendulum's ``DateTime`` (a subclass, the type the scheduler and the CLI hold)
that subtraction is pendulum's and costs ~0.1 ms a value, 1,000 times the
plain one: ~0.1 s for the 1,000 rows of a run's task instances, and a share of
every statement of a scheduler pass. The dumpers here convert such a value to a
plain UTC ``datetime`` first (:func:`~windvane.core.store._time.plain_utc`);
naive values keep psycopg's own handling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pendulum
from psycopg.types.datetime import DatetimeBinaryDumper, DatetimeDumper

from windvane.core.store._time import plain_utc


class _PlainBinary(DatetimeBinaryDumper):
    def dump(self, obj: datetime) -> Any:
        return super().dump(plain_utc(obj))


class _PlainText(DatetimeDumper):
    def dump(self, obj: datetime) -> Any:
        return super().dump(plain_utc(obj))


def install(dbapi_connection: Any) -> None:
    """Register the dumpers on one psycopg connection (the binary one last: it is the default)."""
    adapters = dbapi_connection.adapters
    adapters.register_dumper(pendulum.DateTime, _PlainText)
    adapters.register_dumper(pendulum.DateTime, _PlainBinary)
