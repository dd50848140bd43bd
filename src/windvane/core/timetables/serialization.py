"""Timetables to and from JSON-able dicts, for the serialized DAG in the store.

The form is ``{"__type": <name>, "__var": <timetable.serialize()>}``.  Built-in
timetables are named by a short name (``"null"``, ``"once"``, ``"cron"``,
``"delta"``); any other class by its import path ``"module:QualName"``, which
:func:`timetable_from_dict` imports.  Only deserialize data you trust (your own
store): the import path decides which module gets imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from windvane.errors import ScheduleError, WindvaneError

from .base import Timetable
from .cron import CronDataIntervalTimetable
from .delta import DeltaDataIntervalTimetable
from .null import NullTimetable
from .once import OnceTimetable

_BUILTINS: Mapping[str, type[Timetable]] = {
    "null": NullTimetable,
    "once": OnceTimetable,
    "cron": CronDataIntervalTimetable,
    "delta": DeltaDataIntervalTimetable,
}
_BUILTIN_NAMES: Mapping[type[Timetable], str] = {cls: name for name, cls in _BUILTINS.items()}


def timetable_to_dict(timetable: Timetable) -> dict[str, Any]:
    """``{"__type": ..., "__var": ...}`` for *timetable*; see the module docstring."""
    cls = type(timetable)
    name = _BUILTIN_NAMES.get(cls)
    if name is None:
        if "<locals>" in cls.__qualname__:
            raise ScheduleError(
                f"cannot serialize timetable class {cls.__qualname__!r}: it is defined inside a "
                "function; define it at module level so it can be imported"
            )
        name = f"{cls.__module__}:{cls.__qualname__}"
    return {"__type": name, "__var": timetable.serialize()}


def timetable_from_dict(data: Mapping[str, Any]) -> Timetable:
    """Rebuild the timetable :func:`timetable_to_dict` described."""
    if not isinstance(data, Mapping) or not isinstance(data.get("__type"), str):
        raise ScheduleError(f"a serialized timetable needs a string '__type' key, got {data!r}")
    name: str = data["__type"]
    var = data.get("__var", {})
    if not isinstance(var, dict):
        raise ScheduleError(f"'__var' of serialized timetable {name!r} must be a dict, got {var!r}")
    cls = _BUILTINS.get(name) or _import_class(name)
    try:
        timetable = cls.deserialize(var)
    except WindvaneError:
        raise
    except Exception as exc:
        raise ScheduleError(f"cannot deserialize timetable {name!r} from {var!r}: {exc}") from exc
    if not isinstance(timetable, Timetable):
        raise ScheduleError(f"{name}.deserialize returned {type(timetable).__name__}, not a Timetable")
    return timetable


def _import_class(path: str) -> type[Timetable]:
    module_name, colon, qualname = path.partition(":")
    if not colon or not module_name or not qualname:
        known = ", ".join(_BUILTINS)
        raise ScheduleError(
            f"unknown timetable type {path!r}: not one of {known} nor a 'module:QualName' path"
        )
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ScheduleError(f"cannot import timetable class {path!r}: {exc}") from exc
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ScheduleError(f"cannot import timetable class {path!r}: no attribute {part!r}") from None
    if not (isinstance(obj, type) and issubclass(obj, Timetable)):
        raise ScheduleError(f"{path!r} is not a Timetable subclass")
    return obj
