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

from collections.abc import Callable, Hashable

from windvane.api.answer_cache import AnswerCache

#: Distinct queries kept (the least recently used go first).
MAX_ENTRIES = 256


class PageCache:
    """``key -> JSON body`` read at ``version``, for at most ``ttl`` seconds of ``clock``
    (monotonic): an :class:`~windvane.api.answer_cache.AnswerCache` keyed by ``(key, version)``, so
    a body read at an older version is never found again and ages out with the others."""

    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int = MAX_ENTRIES) -> None:
        self._answers = AnswerCache(ttl, clock, max_entries, stale=0.0)

    def get(self, key: Hashable, version: int) -> bytes | None:
        """The body kept for ``key`` if it was read at ``version`` and has not expired."""
        return self._answers.get((key, version))

    def put(self, key: Hashable, version: int, body: bytes) -> None:
        self._answers.put((key, version), body, self._answers.generation)

    @property
    def hits(self) -> int:
        return self._answers.hits

    @property
    def misses(self) -> int:
        return self._answers.misses
