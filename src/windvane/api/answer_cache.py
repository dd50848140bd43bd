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
  elsewhere (the scheduler, another worker) show within ``ttl + stale`` seconds (below);
* past ``ttl`` an answer is *stale*: :meth:`AnswerCache.find` still returns it, marked so, for
  ``stale`` more seconds, so the caller may send it while one read refreshes it
  (:mod:`windvane.api.kept_answers`); an answer is never served more than ``ttl + stale`` seconds
  after it was kept;
* ``[api] list_cache_seconds = 0`` turns it off. Per process, bounded (least recently used go
  first), thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from windvane.api.etags import weak_tag

#: Distinct answers kept (the least recently used go first).
MAX_ENTRIES = 512


@dataclass(frozen=True, slots=True)
class Kept:
    """A kept answer: its body, the body's weak ETag, and whether it is younger than ``ttl``."""

    body: bytes
    tag: bytes
    fresh: bool


class AnswerCache:
    """``key -> JSON body`` for at most ``ttl`` seconds of ``clock`` (monotonic), then stale for
    ``stale`` more (None: as long as ``ttl``)."""

    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float],
        max_entries: int = MAX_ENTRIES,
        stale: float | None = None,
    ) -> None:
        self.ttl = ttl
        self.stale = ttl if stale is None else stale
        self._clock = clock
        self._max = max_entries
        #: key -> (kept at, body, tag)
        self._entries: OrderedDict[Hashable, tuple[float, bytes, bytes]] = OrderedDict()
        #: Keys ever kept (bounded, not forgotten by :meth:`clear`): answers worth waiting for.
        self._known: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()
        #: Raised by every :meth:`clear`: an answer read across a write is not kept.
        self.generation = 0
        self.hits = 0
        self.stale_hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        """The body kept for ``key`` if it is fresh (counted as a hit or a miss)."""
        found = self.find(key)
        with self._lock:
            if found is None or not found.fresh:
                self.misses += 1
                return None
            self.hits += 1
        return found.body

    def find(self, key: Hashable) -> Kept | None:
        """The answer kept for ``key``, fresh or stale; None when there is none or it is older than
        ``ttl + stale``. Counts nothing: the caller says what it did with it (:meth:`served`)."""
        if self.ttl <= 0:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            age = self._clock() - found[0]
            if age >= self.ttl + self.stale:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return Kept(found[1], found[2], age < self.ttl)

    def known(self, key: Hashable) -> bool:
        """Whether an answer was kept for ``key`` lately (expired or forgotten since, maybe): whether
        another request's read of it will keep one."""
        with self._lock:
            return key in self._known

    def served(self, kept: Kept) -> None:
        """Count an answer from :meth:`find` that was sent as it is."""
        with self._lock:
            self.hits += 1
            self.stale_hits += not kept.fresh

    def put(self, key: Hashable, body: bytes, generation: int) -> None:
        """Keep ``body``, read when :attr:`generation` was ``generation`` (else it may predate a write)."""
        if self.ttl <= 0:
            return
        tag = weak_tag(body)
        with self._lock:
            if generation != self.generation:
                return
            self._entries[key] = (self._clock(), body, tag)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            self._known[key] = None
            self._known.move_to_end(key)
            while len(self._known) > self._max:
                self._known.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer (this process changed data)."""
        with self._lock:
            self.generation += 1
            self._entries.clear()
