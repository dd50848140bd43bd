"""Time as a dependency: the scheduler asks a clock, tests hand it a fake one."""

from __future__ import annotations

import time
from typing import Protocol

import pendulum


class Clock(Protocol):
    def now(self) -> pendulum.DateTime:
        """The current time, UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for deadlines)."""


class SystemClock:
    def now(self) -> pendulum.DateTime:
        return pendulum.now("UTC")

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: pendulum.DateTime | None = None) -> None:
        self._now = start or pendulum.datetime(2024, 1, 1, tz="UTC")
        self._mono = 0.0

    def now(self) -> pendulum.DateTime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now = self._now.add(microseconds=int(seconds * 1_000_000))
        self._mono += seconds

    def set(self, when: pendulum.DateTime) -> None:
        self._mono += max(0.0, (when - self._now).total_seconds())
        self._now = when
