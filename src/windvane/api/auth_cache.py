"""A short-lived, per-process memory of who a credential belongs to, so that most requests
authenticate without a database read (and without a thread hop: the lookup is the only blocking
part of authentication).

An API token is remembered by its SHA-256 (never the token itself), a browser session's user by
name; each entry for ``ttl`` seconds. The process that revokes a token, deletes a user or resets
a password forgets everything at once (:meth:`AuthCache.clear`); other processes (another
``api-server`` worker, the ``windvane users`` CLI) see the change within ``ttl`` seconds
(``[api] auth_cache_seconds``; 0 remembers nothing).

**Re-checked ahead of expiry**: once an entry is past half its ``ttl``, the first request to use it
is told to re-check it (:meth:`AuthCache.remembered`; the caller does it off the request path,
:func:`windvane.api.security.recheck`) while the entry still answers. A client polling steadily
thus never finds its credential expired, and 50 of them never look the same token up 50 times at
once (that stampede, every ``ttl`` seconds, was the slowest 1 % of list requests). An entry is
never used past ``ttl``; a re-check that finds the credential gone forgets it sooner.
"""

from __future__ import annotations

import math
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
        #: key -> (expires at, value, re-check due at: infinity once a caller took it on)
        self._entries: OrderedDict[Hashable, tuple[float, V, float]] = OrderedDict()
        self._lock = threading.Lock()
        #: Raised by every :meth:`clear`: a lookup begun before it is not remembered.
        self.generation = 0

    def get(self, key: Hashable) -> V | None:
        """The value remembered for ``key``, or None (unknown or expired)."""
        return self.remembered(key)[0]

    def remembered(self, key: Hashable) -> tuple[V | None, bool]:
        """The value remembered for ``key`` (None: unknown or expired), and whether the caller
        should re-check it now: true for one caller once the entry is past half its ttl."""
        if self.ttl <= 0:
            return None, False
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None, False
            now = self._clock()
            if found[0] <= now:
                del self._entries[key]
                return None, False
            self._entries.move_to_end(key)
            if found[2] > now:
                return found[1], False
            self._entries[key] = (found[0], found[1], math.inf)
            return found[1], True

    def put(self, key: Hashable, value: V, generation: int | None = None) -> None:
        """Remember ``value``; with ``generation``, only if nothing was forgotten since it was read."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            now = self._clock()
            self._entries[key] = (now + self.ttl, value, now + self.ttl / 2)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        """Forget ``key`` (a re-check found its credential gone)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every credential (after a revocation, a deleted user, a new password)."""
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
