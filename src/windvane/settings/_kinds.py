"""Value kinds, checks and the :func:`setting` field helper.

A *kind* turns a raw value (a TOML value, an environment string, or a Python
object passed as an override) into the typed value of a field, and knows how
to describe what it expects ("an integer", "a boolean (...)"). A *check*
narrows that further ("an integer >= 1"). Both feed the same error message, so
the message and the docs table always agree with the code.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from windvane.core.executors.registry import executor_names, resolve_executor_name

T = TypeVar("T")

#: Signature of a field's ``resolve`` hook: (parsed value, home) -> final value.
Resolver = typing.Callable[[Any, Path], Any]

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class Kind(Protocol):
    """How a field's raw values are parsed and described."""

    @property
    def phrase(self) -> str:
        """What the kind expects, with an article: ``"an integer"``."""
        ...

    def parse(self, raw: object) -> object:
        """Return the typed value or raise :class:`ValueError`."""
        ...

    def resolve(self, value: Any, home: Path) -> Any:
        """Finish a parsed value once ``home`` is known (paths join onto it)."""
        ...


class _Kind:
    phrase = "a value"

    def resolve(self, value: Any, home: Path) -> Any:
        return value


class IntKind(_Kind):
    """Whole numbers; strings such as ``"32"`` are parsed."""

    phrase = "an integer"

    def parse(self, raw: object) -> object:
        if isinstance(raw, bool):
            raise ValueError("a boolean is not an integer")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str):
            return int(raw.strip(), 10)
        raise ValueError(f"unsupported type {type(raw).__name__}")


class FloatKind(_Kind):
    """Finite numbers (durations are seconds as a float)."""

    phrase = "a number"

    def parse(self, raw: object) -> object:
        if isinstance(raw, bool):
            raise ValueError("a boolean is not a number")
        if isinstance(raw, int | float):
            value = float(raw)
        elif isinstance(raw, str):
            value = float(raw.strip())
        else:
            raise ValueError(f"unsupported type {type(raw).__name__}")
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value


class BoolKind(_Kind):
    """Booleans; strings true/false/1/0/yes/no/on/off in any case."""

    phrase = "a boolean (true/false, 1/0, yes/no)"

    def parse(self, raw: object) -> object:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            word = raw.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
        raise ValueError("not a boolean")


class StrKind(_Kind):
    """Plain strings."""

    phrase = "a string"

    def parse(self, raw: object) -> object:
        if isinstance(raw, str):
            return raw
        raise ValueError("not a string")


class PathKind(_Kind):
    """Filesystem paths; ``~`` is expanded and relative paths join onto home."""

    phrase = "a path"

    def parse(self, raw: object) -> object:
        if isinstance(raw, Path):
            return raw
        if isinstance(raw, str) and raw.strip():
            return Path(raw.strip())
        raise ValueError("not a path")

    def resolve(self, value: Any, home: Path) -> Any:
        path = Path(value).expanduser()
        return path if path.is_absolute() else home / path


class StrListKind(_Kind):
    """Lists of strings: a TOML array, or one comma-separated string."""

    phrase = "a list of strings (comma-separated in env)"

    def parse(self, raw: object) -> object:
        if isinstance(raw, str):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
            return tuple(raw)
        raise ValueError("not a list of strings")


@dataclass(frozen=True)
class ChoiceKind(_Kind):
    """One of a fixed set of strings, matched case-insensitively."""

    choices: tuple[str, ...]

    @property
    def phrase(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(repr(choice) for choice in self.choices)

    def parse(self, raw: object) -> object:
        if isinstance(raw, str):
            for choice in self.choices:
                if raw.strip().lower() == choice.lower():
                    return choice
        raise ValueError("not an allowed choice")


class InvalidValue(ValueError):
    """A value that is wrong in a way worth spelling out: the loader shows this message (it names
    the part at fault, e.g. ``routes[1].kinds``) instead of only the expected shape."""


#: Alert kinds and severities a route may name (``windvane.alerting.alert``; a test keeps them equal).
ALERT_KINDS = ("task_failed", "task_retry", "run_failed", "sla_miss", "recovered")
SEVERITIES = ("info", "warning", "critical")
_ROUTE_LISTS = ("dags", "tags", "kinds", "severities", "channels")


@dataclass(frozen=True)
class AlertRoute:
    """One ``[[alerting.routes]]`` table (see docs/alerting.md, "Routing")."""

    channels: tuple[str, ...]
    dags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    continue_: bool = False

    def __str__(self) -> str:
        parts = [f"{name}={'|'.join(getattr(self, name))}" for name in _ROUTE_LISTS if getattr(self, name)]
        return "{" + " ".join([*parts, f"continue={str(self.continue_).lower()}"]) + "}"


class RoutesKind(_Kind):
    """``[[alerting.routes]]`` tables (a JSON list of objects in an environment variable)."""

    phrase = "a list of route tables ([[alerting.routes]]; a JSON list in env)"

    def parse(self, raw: object) -> object:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw) if raw.strip() else []
            except json.JSONDecodeError as exc:
                raise InvalidValue(f"not a JSON list of route objects ({exc.msg})") from None
        if isinstance(raw, tuple) and all(isinstance(item, AlertRoute) for item in raw):
            return raw
        if not isinstance(raw, list | tuple):
            raise InvalidValue(f"expected a list of route tables, got {type(raw).__name__}")
        return tuple(_route(index, item) for index, item in enumerate(raw))


def _route(index: int, table: object) -> AlertRoute:
    where = f"routes[{index}]"
    if isinstance(table, AlertRoute):
        return table
    if not isinstance(table, dict):
        raise InvalidValue(f"{where} must be a table, got {table!r}")
    unknown = sorted(set(table) - {*_ROUTE_LISTS, "continue"})
    if unknown:
        known = ", ".join((*_ROUTE_LISTS, "continue"))
        raise InvalidValue(f"{where} has unknown key {unknown[0]!r} (known: {known})")
    values: dict[str, Any] = {}
    for name in _ROUTE_LISTS:
        items = table.get(name, [])
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
            raise InvalidValue(f"{where}.{name} must be a list of non-empty strings, got {items!r}")
        values[name] = tuple(items)
    for name, allowed in (("kinds", ALERT_KINDS), ("severities", SEVERITIES)):
        wrong = [item for item in values[name] if item not in allowed]
        if wrong:
            raise InvalidValue(f"{where}.{name}: unknown {wrong[0]!r} (known: {', '.join(allowed)})")
    if not values["channels"]:
        raise InvalidValue(f"{where}.channels must name at least one channel")
    follow = table.get("continue", False)
    if not isinstance(follow, bool):
        raise InvalidValue(f"{where}.continue must be true or false, got {follow!r}")
    return AlertRoute(continue_=follow, **values)


def kind_for(annotation: object) -> Kind:
    """Return the :class:`Kind` for a (resolved) field annotation."""
    simple: dict[object, Kind] = {
        int: IntKind(),
        float: FloatKind(),
        bool: BoolKind(),
        str: StrKind(),
        Path: PathKind(),
    }
    if annotation in simple:
        return simple[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal and all(isinstance(arg, str) for arg in args):
        return ChoiceKind(tuple(args))
    if origin is tuple and args == (str, Ellipsis):
        return StrListKind()
    if origin is tuple and args == (AlertRoute, Ellipsis):
        return RoutesKind()
    raise TypeError(f"no settings kind for annotation {annotation!r}")


class Check(Protocol):
    """A further constraint on a parsed value."""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the check."""
        ...

    def expected(self, phrase: str) -> str:
        """Refine the kind's phrase: ``"an integer"`` -> ``"an integer >= 1"``."""
        ...


def _num(limit: float) -> str:
    return str(int(limit)) if float(limit).is_integer() else str(limit)


@dataclass(frozen=True)
class AtLeast:
    """``value >= limit``."""

    limit: float

    def accepts(self, value: Any) -> bool:
        return bool(value >= self.limit)

    def expected(self, phrase: str) -> str:
        return f"{phrase} >= {_num(self.limit)}"


@dataclass(frozen=True)
class Above:
    """``value > limit``."""

    limit: float

    def accepts(self, value: Any) -> bool:
        return bool(value > self.limit)

    def expected(self, phrase: str) -> str:
        return f"{phrase} > {_num(self.limit)}"


@dataclass(frozen=True)
class Between:
    """``low <= value <= high``."""

    low: float
    high: float

    def accepts(self, value: Any) -> bool:
        return bool(self.low <= value <= self.high)

    def expected(self, phrase: str) -> str:
        return f"{phrase} between {_num(self.low)} and {_num(self.high)}"


@dataclass(frozen=True)
class Within:
    """``low < value <= high``: a positive duration or interval with a sane ceiling."""

    low: float
    high: float

    def accepts(self, value: Any) -> bool:
        return bool(self.low < value <= self.high)

    def expected(self, phrase: str) -> str:
        return f"{phrase} > {_num(self.low)} and at most {_num(self.high)}"


@dataclass(frozen=True)
class IsUmask:
    """Three octal digits (``"077"``; a leading ``0o`` or ``0`` is allowed)."""

    def accepts(self, value: Any) -> bool:
        return parse_umask(value) is not None

    def expected(self, phrase: str) -> str:
        return "an octal umask such as '077' (owner only) or '022'"


def parse_umask(text: object) -> int | None:
    """The umask ``text`` spells (``"077"``, ``"0o077"``, ``"0077"``), or None."""
    if not isinstance(text, str):
        return None
    digits = text.strip().lower().removeprefix("0o")
    if not digits or len(digits) > 4 or any(c not in "01234567" for c in digits):
        return None
    value = int(digits, 8)
    return value if value <= 0o777 else None


@dataclass(frozen=True)
class IsTimezone:
    """An IANA time zone name that :func:`pendulum.timezone` knows.

    Checked with :class:`zoneinfo.ZoneInfo`, which ``pendulum.timezone`` builds on (any case of
    ``UTC`` aside): the same verdict without importing pendulum, which every command would pay
    for (``windvane dags list`` needs no pendulum).
    """

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if value.lower() == "utc":
            return True
        try:
            zoneinfo.ZoneInfo(value)
        except Exception:  # ZoneInfoNotFoundError, ValueError (an empty or absolute key), OSError
            return False
        return True

    def expected(self, phrase: str) -> str:
        return "an IANA time zone name such as 'UTC' or 'Europe/Amsterdam'"


@dataclass(frozen=True)
class AreRegexes:
    """Every string of a list compiles as a Python regular expression."""

    def accepts(self, value: Any) -> bool:
        try:
            [re.compile(pattern) for pattern in value]
        except re.error:
            return False
        return True

    def expected(self, phrase: str) -> str:
        return "a list of regular expressions (comma-separated in env)"


@dataclass(frozen=True)
class IsExecutorName:
    """The name of an executor in the executor registry (built-in or a plug-in's), any case."""

    def accepts(self, value: Any) -> bool:
        return resolve_executor_name(value) is not None

    def expected(self, phrase: str) -> str:
        known = ", ".join(repr(name) for name in executor_names())
        return f"one of {known}, or a plug-in's executor name"


def resolve_executor_name_setting(name: str, home: Path) -> str:
    """The registered spelling of an executor name (``"Sequential"`` -> ``"sequential"``)."""
    return resolve_executor_name(name) or name


_SQLITE_URL = re.compile(r"^(?P<scheme>sqlite(?:\+\w+)?):///(?P<path>.*)$", re.IGNORECASE)


def resolve_sqlite_url(url: str, home: Path) -> str:
    """Make the file of a relative ``sqlite:///`` URL relative to ``home``.

    ``sqlite:///windvane.db`` becomes ``sqlite:////<home>/windvane.db``;
    absolute, in-memory and non-SQLite URLs are returned unchanged.
    """
    match = _SQLITE_URL.match(url)
    if match is None:
        return url
    path = match["path"]
    if not path or path.startswith(("/", ":memory:", "file:")):
        return url
    file = Path(path).expanduser()
    if not file.is_absolute():
        file = home / file
    return f"{match['scheme']}:///{file}"


def setting(
    default: T,
    help: str,
    *,
    check: Check | None = None,
    resolve: Resolver | None = None,
) -> T:
    """Declare one config key as a dataclass field.

    ``help`` is the one-line meaning shown in ``docs/configuration.md``;
    ``check`` constrains the value (and phrases the error); ``resolve`` finishes
    the value once ``home`` is known (paths are resolved without one).
    """
    if isinstance(default, list | dict | set):
        raise TypeError("setting defaults must be immutable (use a tuple)")
    metadata = types.MappingProxyType({"help": help, "check": check, "resolve": resolve})
    return dataclasses.field(default=default, metadata=metadata)
