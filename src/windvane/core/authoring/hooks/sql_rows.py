"""What a SQL handler sees and returns: Airflow's ``fetch_all_handler`` / ``fetch_one_handler``, and
rows made storable as a JSON XCom.

A handler is called with the DB-API cursor after each statement, as in Airflow. Its result is
made JSON-able by :func:`jsonable_rows`: tuples and driver row objects become lists;
``datetime``/``date``/``time``/``timedelta``/``Decimal`` stay as they are (the XCom store keeps them
exactly); ``bytes`` become base64 text, a ``UUID`` its text, and any other driver value
(``ipaddress``, ranges, ...) its ``str``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

_KEPT = (str, int, float, bool, type(None), date, time, timedelta, Decimal)


def fetch_all_handler(cursor: Any) -> list[Any] | None:
    """Every row of the statement's result, or None for a statement that returns no rows."""
    if cursor.description is None:
        return None
    return list(cursor.fetchall())


def fetch_one_handler(cursor: Any) -> Any:
    """The first row of the statement's result, or None for a statement that returns no rows."""
    if cursor.description is None:
        return None
    return cursor.fetchone()


def jsonable_rows(value: Any) -> Any:
    """``value`` (a handler's result) with rows as lists and driver values as JSON-able ones."""
    if isinstance(value, _KEPT):  # datetime is a date
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable_rows(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable_rows(item) for item in value]
    if hasattr(value, "__iter__") and hasattr(value, "__len__"):  # driver row types (sqlite3.Row, ...)
        return [jsonable_rows(item) for item in value]
    return str(value)


def column_names(description: Any) -> list[str] | None:
    """The column names of a DB-API cursor ``description`` (None when the statement returned no rows)."""
    if description is None:
        return None
    return [str(column[0]) for column in description]
