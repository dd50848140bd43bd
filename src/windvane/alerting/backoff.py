"""When to try a failed delivery again: exponential backoff with full jitter, or the far end's wish.

Pure functions of the attempt count, a random draw and the clock's time, so
the schedule is tested without sleeping.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Backoff:
    """``base * 2**(attempts-1)`` seconds, capped at ``cap``; full jitter draws uniformly below it."""

    base: float = 5.0
    cap: float = 300.0

    def ceiling(self, attempts: int) -> float:
        """The longest wait after the ``attempts``-th failed attempt (1 for the first)."""
        exponent = min(max(attempts - 1, 0), 62)
        return float(min(self.cap, self.base * (2**exponent)))

    def delay(
        self, attempts: int, *, retry_after: float | None = None, draw: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait after the ``attempts``-th failure: a full-jitter draw in
        ``[0, ceiling)``, or ``retry_after`` when the far end asked for longer."""
        jittered = draw() * self.ceiling(attempts)
        return max(jittered, retry_after or 0.0)

    def next_attempt(
        self,
        now: datetime,
        attempts: int,
        *,
        retry_after: float | None = None,
        draw: Callable[[], float] = random.random,
    ) -> datetime:
        """When the next attempt is due."""
        return now + timedelta(seconds=self.delay(attempts, retry_after=retry_after, draw=draw))
