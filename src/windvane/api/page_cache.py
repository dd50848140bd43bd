"""Answers kept per query while the data behind them has not changed: the DAG list.

``GET /dags`` is the most requested list (every DAGs page load, scripts polling) and its rows
change rarely. Its JSON body is kept per query (filters and paging) together with the
``dag_change`` counter it was read at (migration 0006: database triggers raise the counter on
every insert or delete of a DAG and every change to its file, hash, pause or activity, or next
run), so a request costs one read of that one-row counter instead of the page and its count. A
kept answer also expires after ``ttl`` seconds (``[api] dag_list_cache_seconds``): the only
listed column the counter does not follow is ``last_parsed_at``, which a re-parse that changed
nothing rewrites. Per process, bounded, thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

#: Distinct queries kept (the least recently used go first).
MAX_ENTRIES = 256


class PageCache:
    """``key -> (version, JSON body)`` for at most ``ttl`` seconds of ``clock`` (monotonic)."""

    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[Hashable, tuple[int, float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, version: int) -> bytes | None:
        """The body kept for ``key`` if it was read at ``version`` and has not expired."""
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != version or found[1] <= self._clock():
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[2]

    def put(self, key: Hashable, version: int, body: bytes) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (version, self._clock() + self.ttl, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
