"""Calling user callbacks in a forked child: the one place alerting runs user code.

The scheduler's process never runs user code. :func:`call_forked` forks, runs
``body`` in the child (which loads the DAG file and calls the callbacks, usually
through :func:`call_each`), and reads back how many were called and the
traceback of each that raised; a child that hangs past ``timeout`` is killed. The
parent only ever sees a :class:`CallReport`: nothing a callback does changes its state.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from windvane.core.forking.ending import Ending
from windvane.core.forking.supervise import run_forked


@dataclass(frozen=True, slots=True)
class CallReport:
    """What a forked call did: callbacks called and returned, tracebacks of those that raised, and
    ``ended`` (None when the child reported; else how it ended: a timeout, a crash)."""

    called: int = 0
    errors: list[str] = field(default_factory=list)
    ended: str | None = None


def callbacks_of(value: object) -> list[Callable[..., object]]:
    """A callback argument (None, a callable or a list of them) as a list."""
    if value is None:
        return []
    if callable(value):
        return [value]
    found: list[Callable[..., object]] = list(value)  # type: ignore[call-overload]
    return found


def call_each(value: object, *args: Any) -> tuple[int, list[str]]:
    """Call each callback of ``value`` with ``args``; (how many returned, tracebacks of the others)."""
    called, errors = 0, []
    for callback in callbacks_of(value):
        try:
            callback(*args)
            called += 1
        except Exception:
            errors.append(traceback.format_exc())
    return called, errors


def call_forked(body: Callable[[], tuple[int, list[str]]], *, timeout: float) -> CallReport:
    """Run ``body`` in a forked child killed after ``timeout`` seconds; what it reported."""

    def child() -> bytes:
        called, errors = body()
        return json.dumps({"called": called, "errors": errors}).encode()

    end = run_forked(child, deadline_seconds=timeout)
    if end.how is not Ending.REPORTED or not end.payload:
        return CallReport(ended=str(end.status))
    report = json.loads(end.payload)
    return CallReport(called=int(report["called"]), errors=list(report["errors"]))
