"""The scheduler's own loop timing: the durations of its recent passes and their 95th percentile.

The scheduler writes the percentile to its ``job`` row with each heartbeat (no statement more), so
the API's health panel reads it from the metadata database, without Prometheus. Pure: no I/O, no
clock; the caller adds each pass's duration.
"""

from __future__ import annotations

import math
from collections import deque

#: Passes the percentile covers: the newest ones (a busy scheduler runs many a second, an idle one a
#: few a minute).
WINDOW = 1000


class LoopWindow:
    """The durations (seconds) of the newest :data:`WINDOW` passes."""

    def __init__(self, size: int = WINDOW) -> None:
        self._durations: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        self._durations.append(seconds)

    def __len__(self) -> int:
        return len(self._durations)

    def p95(self) -> float | None:
        """The 95th percentile (nearest rank) of the passes held; None before the first."""
        return percentile(list(self._durations), 95.0)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile of ``values`` by nearest rank (the smallest value with at least
    ``q`` % of the values at or below it); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
