"""A short per-process memory of list answers: the same GET (path and query) by a user of the same
role within ``[api] list_cache_seconds`` gets the JSON body read the first time, without a thread hop
or a database read.

Why a time-based micro-cache: runs and task instances change with every scheduler loop and have no
change counter (a counter raised by triggers on ``task_instance`` would make every state change of
every task contend for one row), so the only way to let 50 browsers and scripts polling the same
pages cost one read between them is to let an answer be up to ``ttl`` seconds old. The UI polls
every few seconds anyway. What bounds it:

* the key holds the caller's **role**, so an answer is only ever served to users of the role it
  was read for (today every role sees the same lists; the key keeps it so if that changes);
* every write through this process (an API call that changes data: trigger, clear, mark, pause,
  pools...) forgets every kept answer at once (:meth:`AnswerCache.clear`), and an answer read
  while a write was under way is not kept: a client sees its own changes at once; changes made
  elsewhere (the scheduler, another worker) show within ``ttl`` seconds;
* ``[api] list_cache_seconds = 0`` turns it off. Per process, bounded (least recently used go
  first), thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

#: Distinct answers kept (the least recently used go first).
MAX_ENTRIES = 512


class AnswerCache:
    """``key -> JSON body`` for at most ``ttl`` seconds of ``clock`` (monotonic)."""

    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        #: Raised by every :meth:`clear`: an answer read across a write is not kept.
        self.generation = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        """The body kept for ``key`` if it has not expired."""
        if self.ttl <= 0:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] <= self._clock():
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: Hashable, body: bytes, generation: int) -> None:
        """Keep ``body``, read when :attr:`generation` was ``generation`` (else it may predate a write)."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation != self.generation:
                return
            self._entries[key] = (self._clock() + self.ttl, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer (this process changed data)."""
        with self._lock:
            self.generation += 1
            self._entries.clear()
