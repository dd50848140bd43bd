"""Try-host retirements of a Celery worker's pool processes, added up where its ``/metrics`` is served.

A pool process with try hosts (``[celery] tries_per_process`` above 1) counts each host it
retires, by reason (:data:`~windvane.core.model.try_host_retirements.RETIREMENT_REASONS`,
:meth:`~windvane.core.worker.try_host.TryHosts.take_retirements`). After each try it adds them
to a :class:`SharedRetirements`, one ``multiprocessing.Array`` made by the worker's main process
before the pool forks; the main process reads the totals for
``windvane_celery_worker_try_host_retirements_total`` (:mod:`windvane.celery.worker_metrics`),
as it reads its pool's transient database errors.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Mapping

from windvane.core.model.try_host_retirements import RETIREMENT_REASONS

log = logging.getLogger(__name__)
_INDEX = {reason: i for i, reason in enumerate(RETIREMENT_REASONS)}


class SharedRetirements:
    """Retirements by reason, added by any process forked after it was made."""

    def __init__(self) -> None:
        self._counts = multiprocessing.Array("q", len(RETIREMENT_REASONS))

    def add(self, taken: Mapping[str, int]) -> None:
        """Add ``taken`` (reason -> count; reasons outside the closed set are dropped). Never raises."""
        if not taken:
            return
        try:
            with self._counts.get_lock():
                for reason, count in taken.items():
                    index = _INDEX.get(reason)
                    if index is not None and count > 0:
                        self._counts[index] += count
        except Exception:  # counting never breaks the try it counts
            log.exception("could not count try-host retirements %s", dict(taken))

    def totals(self) -> dict[str, int]:
        """Every reason's total so far (0 for those never seen)."""
        with self._counts.get_lock():
            counts = [int(count) for count in self._counts[:]]
        return dict(zip(RETIREMENT_REASONS, counts, strict=True))
