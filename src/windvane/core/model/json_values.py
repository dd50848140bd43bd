"""XCom and params values as JSON text: never pickle.

:func:`serialize` / :func:`deserialize` turn a value into compact JSON text and
back; :func:`to_jsonable` / :func:`from_jsonable` do the same at the level of
Python objects (for callers that embed the value in a larger JSON document).

What round-trips, and how:

* ``str``, ``int``, ``float``, ``bool``, ``None``, ``list`` and ``dict`` (with
  ``str`` keys) are written as plain JSON.
* ``tuple`` comes back as ``list`` (as in Airflow). Subclasses of the plain
  types come back as the plain type: a ``StrEnum`` member as its ``str`` value,
  an ``OrderedDict`` or any other ``Mapping`` as ``dict``.
* ``datetime``, ``date``, ``time``, ``timedelta``, ``Decimal`` and pendulum's
  ``DateTime``, ``Date``, ``Time`` and ``Duration`` come back with their exact
  type and value: wall clock, ``fold``, and the very timezone (a ``ZoneInfo``,
  a ``datetime.timezone`` with its name, or a pendulum timezone). They are
  written as tagged objects such as ``{"__wv_type": "datetime", "v": "..."}``;
  other subclasses of these types come back as the nearest supported class.
* ``nan``, ``inf`` and ``-inf`` are tagged too, so the text stays strict JSON
  that any reader (PostgreSQL ``jsonb``, a browser) accepts.
* A user dict that has the key ``"__wv_type"`` itself is escaped as
  ``{"__wv_type": "dict", "v": {...}}`` and comes back unchanged.

Everything else (sets, bytes, arbitrary objects, non-``str`` dict keys,
circular references) raises :class:`~windvane.errors.SerializationError`
naming the type and where it sits in the value, e.g.
``cannot store value of type 'set' at ['rows'][2] as JSON``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pendulum

from windvane.errors import SerializationError

TYPE_KEY = "__wv_type"

_Path = tuple[str | int, ...]
_US = timedelta(microseconds=1)
_FLOAT_TAGS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_HINTS: dict[type, str] = {
    set: "convert it to a list",
    frozenset: "convert it to a list",
    bytes: "decode it to str or base64-encode it",
    bytearray: "decode it to str or base64-encode it",
}


def serialize(value: Any, *, context: str | None = None) -> str:
    """Return ``value`` as compact, strict, ASCII-only JSON text.

    ``context`` prefixes error messages, e.g. ``"task 'extract' in DAG 'etl'
    returned a value"``.
    """
    return json.dumps(
        to_jsonable(value, context=context), separators=(",", ":"), allow_nan=False, ensure_ascii=True
    )


def deserialize(text: str | bytes, *, context: str | None = None) -> Any:
    """Inverse of :func:`serialize`."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise SerializationError(_prefix(context, f"stored text is not valid JSON: {exc}")) from exc
    return from_jsonable(obj, context=context)


def to_jsonable(value: Any, *, context: str | None = None) -> Any:
    """Return ``value`` as an object made only of JSON types (see module doc)."""
    try:
        return _encode(value, (), set())
    except _Failure as exc:
        raise SerializationError(_prefix(context, str(exc))) from None
    except RecursionError:
        raise SerializationError(_prefix(context, "value is nested too deeply to store as JSON")) from None


def from_jsonable(obj: Any, *, context: str | None = None) -> Any:
    """Inverse of :func:`to_jsonable`."""
    try:
        return _decode(obj, ())
    except _Failure as exc:
        raise SerializationError(_prefix(context, str(exc))) from None
    except RecursionError:
        raise SerializationError(_prefix(context, "stored value is nested too deeply")) from None


class _Failure(Exception):
    """Internal: carries a message up to the public entry point, which adds the context."""


def _prefix(context: str | None, message: str) -> str:
    return f"{context}: {message}" if context else message


def _at(path: _Path) -> str:
    return " at " + "".join(f"[{part!r}]" for part in path) if path else ""


def _type_name(value: Any) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _encode(value: Any, path: _Path, active: set[int]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        value = float(value)
        if math.isfinite(value):
            return value
        return {TYPE_KEY: "float", "v": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list | tuple | Mapping):
        if id(value) in active:
            raise _Failure(f"cannot store value{_at(path)} as JSON: it contains itself")
        active.add(id(value))
        try:
            if isinstance(value, Mapping):
                return _encode_dict(value, path, active)
            return [_encode(item, (*path, i), active) for i, item in enumerate(value)]
        finally:
            active.discard(id(value))
    return _encode_scalar(value, path)


def _encode_dict(value: Mapping[Any, Any], path: _Path, active: set[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Failure(
                f"cannot store dict key {key!r} of type {_type_name(key)!r}{_at(path)} as JSON; "
                "keys must be str"
            )
        out[str.__str__(key)] = _encode(item, (*path, key), active)
    return {TYPE_KEY: "dict", "v": out} if TYPE_KEY in out else out


def _encode_scalar(value: Any, path: _Path) -> dict[str, Any]:
    # Most specific first: pendulum types subclass the stdlib ones, datetime subclasses date.
    pen = "pendulum." if isinstance(value, pendulum.DateTime | pendulum.Date | pendulum.Time) else ""
    if isinstance(value, datetime | time):
        kind = "datetime" if isinstance(value, datetime) else "time"
        iso = datetime.isoformat(value) if isinstance(value, datetime) else time.isoformat(value)
        out: dict[str, Any] = {TYPE_KEY: pen + kind, "v": iso}
        if value.tzinfo is not None:
            out["tz"] = _encode_tz(value.tzinfo, kind, path)
        if value.fold != _default_fold(out[TYPE_KEY]):
            out["fold"] = value.fold
        return out
    if isinstance(value, date):
        return {TYPE_KEY: pen + "date", "v": date.isoformat(value)}
    if isinstance(value, pendulum.Duration):
        years, months = value.years, value.months
        return {TYPE_KEY: "pendulum.duration", "v": _seconds_text(value), "years": years, "months": months}
    if isinstance(value, timedelta):
        return {TYPE_KEY: "timedelta", "v": _seconds_text(value)}
    if isinstance(value, Decimal):
        return {TYPE_KEY: "decimal", "v": str(value)}
    hint = _HINTS.get(type(value))
    if hint is None and dataclasses.is_dataclass(value):
        hint = "convert it with dataclasses.asdict()"
    raise _Failure(
        f"cannot store value of type {_type_name(value)!r}{_at(path)} as JSON" + (f"; {hint}" if hint else "")
    )


def _default_fold(tag: str) -> int:
    # pendulum.datetime(), parse() and arithmetic all give fold=1; writing it every time is noise.
    return 1 if tag == "pendulum.datetime" else 0


def _encode_tz(tz: tzinfo, kind: str, path: _Path) -> dict[str, Any]:
    if isinstance(tz, pendulum.Timezone):
        return {"pendulum": tz.name}
    if isinstance(tz, pendulum.FixedTimezone):
        return {"pendulum_offset": tz.offset, "name": tz.name}
    if type(tz) is ZoneInfo and tz.key is not None:
        return {"zoneinfo": tz.key}
    if isinstance(tz, timezone):
        offset = tz.utcoffset(None)
        out: dict[str, Any] = {"offset": _seconds_text(offset)}
        if tz.tzname(None) != timezone(offset).tzname(None):
            out["name"] = tz.tzname(None)
        return out
    raise _Failure(
        f"cannot store {kind} with tzinfo of type {_type_name(tz)!r}{_at(path)} as JSON; "
        "use zoneinfo.ZoneInfo, datetime.timezone or a pendulum timezone"
    )


def _seconds_text(value: timedelta) -> str:
    """Exact seconds as a decimal string ("90", "-0.5"); floats would lose microseconds."""
    micros = timedelta.__floordiv__(value, _US)
    whole, frac = divmod(abs(micros), 1_000_000)
    text = f"{whole}.{frac:06d}".rstrip("0").rstrip(".")
    return f"-{text}" if micros < 0 else text


def _micros(text: Any) -> int:
    exact = Decimal(text) * 1_000_000
    if exact != exact.to_integral_value():
        raise ValueError(f"{text!r} is finer than a microsecond")
    return int(exact)


def _decode(obj: Any, path: _Path) -> Any:
    if isinstance(obj, list):
        return [_decode(item, (*path, i)) for i, item in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    if TYPE_KEY not in obj:
        return {key: _decode(item, (*path, key)) for key, item in obj.items()}
    tag = obj[TYPE_KEY]
    try:
        if tag == "dict":
            return {key: _decode(item, (*path, key)) for key, item in obj["v"].items()}
        return _decode_tagged(tag, obj)
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
        raise _Failure(
            f"cannot read stored value tagged {tag!r}{_at(path)}: {type(exc).__name__}: {exc}"
        ) from exc


def _decode_tagged(tag: Any, obj: dict[str, Any]) -> Any:
    v = obj["v"]
    if tag == "float":
        return _FLOAT_TAGS[v]
    if tag == "decimal":
        return Decimal(v)
    if tag in ("timedelta", "pendulum.duration"):
        days, rest = divmod(_micros(v), 86_400_000_000)
        if tag == "timedelta":
            return timedelta(days=days, microseconds=rest)
        years, months = obj["years"], obj["months"]
        days -= 365 * years + 30 * months
        return pendulum.Duration(days=days, microseconds=rest, years=years, months=months)
    if tag in ("date", "pendulum.date"):
        day = date.fromisoformat(v)
        return day if tag == "date" else pendulum.Date(day.year, day.month, day.day)
    tz = _decode_tz(obj["tz"]) if "tz" in obj else None
    fold = obj.get("fold", _default_fold(tag))
    if tag in ("datetime", "pendulum.datetime"):
        wall = datetime.fromisoformat(v).replace(tzinfo=tz, fold=fold)
        if tag == "datetime":
            return wall
        fields = (wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second, wall.microsecond)
        return pendulum.DateTime(*fields, tzinfo=tz, fold=fold)
    if tag in ("time", "pendulum.time"):
        clock = time.fromisoformat(v).replace(tzinfo=tz, fold=fold)
        if tag == "time":
            return clock
        return pendulum.Time(clock.hour, clock.minute, clock.second, clock.microsecond, tzinfo=tz, fold=fold)
    raise ValueError("unknown type tag")


def _decode_tz(spec: dict[str, Any]) -> tzinfo:
    if "pendulum" in spec:
        return pendulum.Timezone(spec["pendulum"])
    if "pendulum_offset" in spec:
        return pendulum.FixedTimezone(spec["pendulum_offset"], name=spec["name"])
    if "zoneinfo" in spec:
        return ZoneInfo(spec["zoneinfo"])
    offset = timedelta(microseconds=_micros(spec["offset"]))
    return timezone(offset, spec["name"]) if "name" in spec else timezone(offset)
