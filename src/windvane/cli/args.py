"""Argument converters: each rejects bad input with a message argparse prefixes with the option.

Used as ``type=`` of ``add_argument``, so ``--conf '{bad'`` fails with
``argument --conf: not valid JSON ...`` and exit code 2 before any work starts.
Dates are checked here and placed in the configured time zone by
:func:`to_datetime` once the settings are known.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pendulum


def json_object(text: str) -> dict[str, Any]:
    """A JSON object (``--conf``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): {text!r}"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object like '{{\"key\": 1}}', got {text!r}")
    return value


def date_text(text: str) -> str:
    """An ISO 8601 date or date-time (``2024-01-31``, ``2024-01-31T06:00+01:00``), kept as text."""
    import pendulum  # here: building the parser must not import it (``--help`` stays fast)

    try:
        parsed = pendulum.parse(text, tz="UTC")
    except ValueError as exc:  # pendulum's ParserError is a ValueError
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date: {text!r} ({exc})") from None
    if not isinstance(parsed, pendulum.DateTime):
        raise argparse.ArgumentTypeError(f"not a date or date-time: {text!r}")
    return text


def to_datetime(text: str, timezone: str) -> pendulum.DateTime:
    """A text accepted by :func:`date_text` as a date-time; without an offset it is in ``timezone``."""
    import pendulum

    parsed = pendulum.parse(text, tz=timezone)
    assert isinstance(parsed, pendulum.DateTime)  # date_text checked it
    return parsed


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def days(text: str) -> float:
    """A number of days >= 0 (``30``, ``0.5``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of days >= 0, got {text!r}")
    return value


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> float:
    """A positive duration in seconds from ``90s``, ``30m``, ``2h`` or ``1d``."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration like 30m, 2h or 1d: {text!r}")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0, got {text!r}")
    return seconds


def regex(text: str) -> re.Pattern[str]:
    """A Python regular expression."""
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a valid regular expression {text!r}: {exc}") from None


def port_number(text: str) -> int:
    """A TCP port, 1 to 65535."""
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {value}")
    return value
