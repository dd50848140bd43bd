"""Parse and validate five-field cron expressions, naming the field at fault.

croniter is lenient in some places (six- and seven-field forms, hashed ``H``
values) and buggy in others (``7-7`` in day-of-week means every day, steps on
wrap-around ranges), and its messages do not say which field is wrong.  So we
parse the expression ourselves, report errors per field, and hand croniter a
canonical form: each field either ``*`` or an explicit sorted list, plus the
``L`` (last day of month) and ``D#N`` (N-th weekday) extensions.

Syntax accepted per field: ``*``, numbers, names (``JAN``-``DEC``,
``SUN``-``SAT``, any case), ranges ``a-b`` (a range whose start is after its
end wraps around, e.g. hours ``22-2``), steps ``*/n``, ``a-b/n`` and ``a/n``
(from ``a`` to the end of the field), comma lists, ``?`` as ``*`` in the two day
fields, ``L`` in day-of-month, ``D#N`` in day-of-week.  Day-of-week ``7`` is
Sunday.  When day-of-month and day-of-week are both restricted (written as
anything but ``*`` or ``?``), a day matching *either* fires, as in classic cron.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field

from windvane.errors import CronExpressionError

PRESETS: Mapping[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

# Spelled out: calendar.month_abbr follows the locale.
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: i for i, name in enumerate(_MONTH_NAMES, 1)}
_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}


@dataclass(frozen=True)
class _FieldKind:
    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict)


_MINUTE = _FieldKind("minute", 0, 59)
_HOUR = _FieldKind("hour", 0, 23)
_DOM = _FieldKind("day-of-month", 1, 31)
_MONTH = _FieldKind("month", 1, 12, _MONTHS)
_DOW = _FieldKind("day-of-week", 0, 7, _DAYS)
_KINDS = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW)


@dataclass(frozen=True)
class CronSpec:
    """A validated cron expression.

    ``source`` is what the user wrote (a preset or five fields) and is what the
    timetable shows as its summary; ``expression`` is the canonical five-field
    form handed to croniter; ``hours`` is the set of hours the schedule fires in.
    """

    source: str
    expression: str
    hours: frozenset[int]

    @property
    def covers_every_hour(self) -> bool:
        """True if the schedule fires at least once in every hour of the day."""
        return len(self.hours) == 24


class _Error(Exception):
    """A field-level problem; turned into a CronExpressionError naming the expression."""


def parse_cron(source: str) -> CronSpec:
    """Validate *source* (five fields or a preset) and return its canonical form.

    Raises :class:`CronExpressionError` whose message quotes the expression and
    names the field at fault.
    """
    if not isinstance(source, str):
        raise CronExpressionError(f"a cron expression must be a string, not {type(source).__name__}")
    text = source.strip()
    if text.startswith("@"):
        if text.lower() == "@once":
            raise CronExpressionError(
                "'@once' is not a cron expression; use OnceTimetable (schedule='@once')"
            )
        if text.lower() not in PRESETS:
            known = ", ".join(sorted(set(PRESETS)))
            raise CronExpressionError(
                f"bad cron expression {source!r}: unknown preset (known: {known}, @once)"
            )
        text = PRESETS[text.lower()]
    parts = text.split()
    if len(parts) != 5:
        extra = "; seconds and year fields are not supported" if len(parts) in (6, 7) else ""
        raise CronExpressionError(
            f"bad cron expression {source!r}: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(parts)}{extra}"
        )
    try:
        fields = tuple(_canonical(kind, part) for kind, part in zip(_KINDS, parts, strict=True))
        _check_dom_fits_month(parts, fields)
    except _Error as exc:
        raise CronExpressionError(f"bad cron expression {source!r}: {exc}") from None
    hours = fields[1].values if fields[1].values is not None else frozenset(range(24))
    return CronSpec(source=source, expression=" ".join(f.canonical for f in fields), hours=hours)


@dataclass(frozen=True)
class _Parsed:
    canonical: str  # croniter text for the field
    values: frozenset[int] | None  # None: unrestricted (* or ?)
    last_day: bool = False  # day-of-month "L"


def _canonical(kind: _FieldKind, text: str) -> _Parsed:
    if text == "*" or (kind in (_DOM, _DOW) and text == "?"):
        return _Parsed("*", None)
    values: set[int] = set()
    extras: set[str] = set()  # "L" and "D#N" items, passed to croniter as they are
    for item in text.split(","):
        if not item:
            raise _Error(f"{kind.name} field {text!r} has an empty list item")
        if kind is _DOM and item.upper() == "L":
            extras.add("L")
        elif kind is _DOW and "#" in item:
            extras.add(_nth_weekday(text, item))
        else:
            values |= _expand(kind, text, item)
    if kind is _DOW:
        values = {v % 7 for v in values}  # 7 is Sunday
        if extras and values:
            raise _Error(
                f"day-of-week field {text!r} mixes plain days with D#N items, which croniter rejects"
            )
    canonical = ",".join([str(v) for v in sorted(values)] + sorted(extras))
    if kind is _DOW:
        values |= {int(e.partition("#")[0]) for e in extras}
    return _Parsed(canonical, frozenset(values), last_day="L" in extras)


def _nth_weekday(text: str, item: str) -> str:
    day_text, _, nth_text = item.partition("#")
    day = _value(_DOW, text, day_text)
    if not _is_number(nth_text):
        raise _Error(f"day-of-week field {text!r}: {item!r} needs D#N with N a number 1-5")
    nth = int(nth_text)
    if not 1 <= nth <= 5:
        raise _Error(f"day-of-week field {text!r}: occurrence {nth} in {item!r} is out of range 1-5")
    return f"{day % 7}#{nth}"


def _expand(kind: _FieldKind, text: str, item: str) -> set[int]:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not _is_number(step_text) or int(step_text) < 1:
            raise _Error(f"{kind.name} field {text!r}: step {step_text!r} must be a positive integer")
        step = int(step_text)
    if base == "*":
        low, high = kind.low, kind.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _value(kind, text, first), _value(kind, text, last)
    else:
        low = _value(kind, text, base)
        high = kind.high if slash else low
    if low <= high:
        return set(range(low, high + 1, step))
    if slash:
        raise _Error(f"{kind.name} field {text!r}: the wrap-around range {base!r} cannot take a step")
    return set(range(low, kind.high + 1)) | set(range(kind.low, high + 1))


def _value(kind: _FieldKind, text: str, token: str) -> int:
    if _is_number(token):
        number = int(token)
        if not kind.low <= number <= kind.high:
            where = f"{kind.name} field {text!r}" + ("" if token == text else f": {number}")
            raise _Error(f"{where} is out of range {kind.low}-{kind.high}")
        return number
    if token.upper() in kind.names:
        return kind.names[token.upper()]
    names = list(kind.names)
    hint = f" or a name {names[0]}-{names[-1]}" if names else ""
    raise _Error(f"{kind.name} field {text!r}: {token!r} is not a number{hint}")


def _is_number(token: str) -> bool:
    return token.isascii() and token.isdigit()


def _check_dom_fits_month(parts: list[str], fields: tuple[_Parsed, ...]) -> None:
    """Reject a day-of-month that never occurs in the listed months (e.g. ``30 2``)."""
    dom, month, dow = fields[2], fields[3], fields[4]
    if dom.values is None or dom.last_day or dow.values is not None:
        return
    months = month.values if month.values is not None else range(1, 13)
    longest = max(calendar.monthrange(2024, m)[1] for m in months)  # 2024 is a leap year: Feb has 29
    if min(dom.values) > longest:
        raise _Error(f"day-of-month field {parts[2]!r} never occurs in month field {parts[3]!r}")
