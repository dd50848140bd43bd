"""Range and type checks of DAG and operator arguments, run once when a DAG file is read.

Every value the scheduler later stores or computes with is checked here, so a DAG file can only
fail itself (an import error naming DAG, task and argument), never the scheduler: integers must
fit the 32-bit columns that hold them (PostgreSQL refuses ``integer out of range``), durations must
be finite and at most :data:`MAX_DURATION`, and arguments must have the type they are used as.
Computed values (summed priority weights) are clamped with :func:`clamp_int32` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from windvane.errors import DagDefinitionError

#: The range of the INTEGER columns (PostgreSQL int4) that hold counts and weights.
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
#: Longest duration an argument may give (retry delays, timeouts, SLAs): about a century.
MAX_DURATION = timedelta(days=36_500)


def owner_name(task_id: object, dag_id: object | None) -> str:
    """``task 't' of DAG 'd'`` (or ``task 't'`` outside a DAG): how errors name a task."""
    name = f"task {task_id!r}"
    return f"{name} of DAG {dag_id!r}" if dag_id is not None else name


def clamp_int32(value: int) -> int:
    """``value`` moved into [INT32_MIN, INT32_MAX] (Airflow's ``db_safe_priority``)."""
    return max(INT32_MIN, min(INT32_MAX, value))


def int_in(value: object, name: str, owner: str, low: int, high: int = INT32_MAX) -> int:
    """``value`` if it is an int (not a bool) in [low, high], else a DagDefinitionError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DagDefinitionError(f"{owner}: {name} must be an integer from {low} to {high}, got {value!r}")
    return value


def opt_int_in(value: object, name: str, owner: str, low: int, high: int = INT32_MAX) -> int | None:
    """:func:`int_in`, with None allowed."""
    return None if value is None else int_in(value, name, owner, low, high)


def duration(value: object, name: str, owner: str) -> timedelta:
    """A timedelta (or seconds) from zero to :data:`MAX_DURATION`, else a DagDefinitionError."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) if abs(value) < 1e18 else math.inf
    else:
        raise DagDefinitionError(
            f"{owner}: {name} must be a timedelta or seconds, not {type(value).__name__}"
        )
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION.total_seconds()):
        raise DagDefinitionError(f"{owner}: {name} must be from 0 to {MAX_DURATION.days} days, got {value!r}")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def opt_duration(value: object, name: str, owner: str) -> timedelta | None:
    """:func:`duration`, with None allowed."""
    return None if value is None else duration(value, name, owner)


def string(value: object, name: str, owner: str) -> str:
    """A str, else a DagDefinitionError."""
    if not isinstance(value, str):
        raise DagDefinitionError(f"{owner}: {name} must be a string, not {type(value).__name__}")
    return value


def opt_string(value: object, name: str, owner: str) -> str | None:
    """:func:`string`, with None allowed."""
    return None if value is None else string(value, name, owner)


def flag(value: object, name: str, owner: str) -> bool:
    """A bool, else a DagDefinitionError (a truthy string is most likely a mistake)."""
    if not isinstance(value, bool):
        raise DagDefinitionError(f"{owner}: {name} must be True or False, not {value!r}")
    return value


def opt_flag(value: object, name: str, owner: str) -> bool | None:
    """:func:`flag`, with None allowed."""
    return None if value is None else flag(value, name, owner)


def strings(value: object, name: str, owner: str) -> list[str]:
    """A str or a sequence of str (None: empty), as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence | set | frozenset) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DagDefinitionError(f"{owner}: {name} must be a string or a list of strings, got {value!r}")


def mapping(value: object, name: str, owner: str) -> dict[str, Any]:
    """A mapping with string keys (None: empty), as a dict."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise DagDefinitionError(f"{owner}: {name} must be a mapping with string keys, got {value!r}")
    return dict(value)


def callbacks(value: object, name: str, owner: str) -> Any:
    """None, a callable or a sequence of callables (kept as given)."""
    if value is None or callable(value):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str) and all(callable(v) for v in value):
        return value
    raise DagDefinitionError(f"{owner}: {name} must be a callable or a list of callables, got {value!r}")


def opt_datetime(value: object, name: str, owner: str) -> datetime | None:
    """None or a datetime, else a DagDefinitionError."""
    if value is not None and not isinstance(value, datetime):
        raise DagDefinitionError(f"{owner}: {name} must be a datetime, not {type(value).__name__}")
    return value


def first_run_computable(dag_id: str, compute: Callable[[], object]) -> None:
    """Run ``compute`` (the DAG's first scheduled run); an arithmetic failure becomes a
    DagDefinitionError naming the DAG (a schedule or dates beyond the calendar)."""
    try:
        compute()
    except (OverflowError, ValueError, ArithmeticError) as exc:
        if isinstance(exc, DagDefinitionError):
            raise
        raise DagDefinitionError(
            f"DAG {dag_id!r}: its next run cannot be computed ({type(exc).__name__}: {exc}); "
            "check schedule, start_date and end_date"
        ) from exc
