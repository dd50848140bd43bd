"""A short-lived, per-process memory of who a credential belongs to, so that most requests
authenticate without a database read (and without a thread hop: the lookup is the only blocking
part of authentication).

An API token is remembered by its SHA-256 (never the token itself), a browser session's user by
name; each entry for ``ttl`` seconds. The process that revokes a token, deletes a user or resets
a password forgets everything at once (:meth:`AuthCache.clear`); other processes (another
``api-server`` worker, the ``windvane users`` CLI) see the change within ``ttl`` seconds
(``[api] auth_cache_seconds``; 0 remembers nothing).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
#: Most credentials remembered at once (the least recently used go first).
MAX_ENTRIES = 10_000


class AuthCache(Generic[V]):
    """``key -> value`` for ``ttl`` seconds of ``clock`` (monotonic), at most ``max_entries``."""

    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value remembered for ``key``, or None (unknown or expired)."""
        if self.ttl <= 0:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, value: V) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every credential (after a revocation, a deleted user, a new password)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
