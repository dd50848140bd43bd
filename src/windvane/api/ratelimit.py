"""Login rate limiting: at most ``limit`` failed logins per (user name, client address) within a
sliding window; a success clears the count. In memory, per server process (with several
workers each one counts on its own: the bound is ``limit`` times the workers)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

#: Most (user, address) pairs remembered; the oldest are forgotten beyond it (bounded memory).
MAX_KEYS = 100_000


class LoginLimiter:
    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until ``username`` may try again from ``address`` (0: now)."""
        with self._lock:
            failures = self._recent((username, address))
            if len(failures) < self._limit:
                return 0.0
            return max(0.0, failures[0] + self._window - self._clock())

    def failed(self, username: str, address: str) -> None:
        with self._lock:
            key = (username, address)
            self._recent(key).append(self._clock())
            if len(self._failures) > MAX_KEYS:
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username, address), None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        cutoff = self._clock() - self._window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
