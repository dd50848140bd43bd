"""A Celery worker's metrics: what its main process knows about the tries it holds.

The main process (the one that talks to the broker) reads
:mod:`celery.worker.state` every ``every_seconds`` in a thread and emits, into
the metrics sink the CLI built for the ``celery-worker`` process (Prometheus
``/metrics`` on ``[celery] prometheus_port`` and/or StatsD):
``windvane_celery_worker_tries_running`` (handed to a pool process),
``windvane_celery_worker_tries_reserved`` (received, waiting for one),
``windvane_celery_worker_tries_total`` (finished since start),
``windvane_celery_worker_concurrency`` and
``windvane_celery_worker_db_transient_errors_total`` (what its pool processes add to the counter
they share with it, :func:`windvane.core.worker.db_errors.share`) and
``windvane_celery_worker_try_host_retirements_total`` by reason (what they add to
:class:`~windvane.celery.retirements.SharedRetirements`) (definitions:
:mod:`windvane.metrics.catalogue_celery`). How many workers there are is
``count(windvane_celery_worker_concurrency)`` in Prometheus.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from windvane.celery.app import TASK_NAME
from windvane.metrics.catalogue_celery import (
    CELERY_WORKER_CONCURRENCY,
    CELERY_WORKER_DB_TRANSIENT_ERRORS,
    CELERY_WORKER_RESERVED,
    CELERY_WORKER_RUNNING,
    CELERY_WORKER_TRIES,
    CELERY_WORKER_TRY_HOST_RETIREMENTS,
)
from windvane.metrics.sink import MetricsSink

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerCounts:
    running: int
    reserved: int
    finished: int


def celery_counts() -> WorkerCounts:
    """This worker process's counts, from :mod:`celery.worker.state`."""
    from celery.worker import state

    active, reserved = len(state.active_requests), len(state.reserved_requests)
    return WorkerCounts(active, max(0, reserved - active), int(state.total_count.get(TASK_NAME, 0)))


class WorkerMetrics:
    """Emits a worker's counts into ``sink`` (see the module doc)."""

    def __init__(
        self,
        sink: MetricsSink,
        concurrency: int,
        counts: Callable[[], WorkerCounts] = celery_counts,
        db_errors: Callable[[], int] | None = None,
        retirements: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        self.concurrency = concurrency
        self._counts = counts
        self._db_errors = db_errors
        self._errors = sink.bind(CELERY_WORKER_DB_TRANSIENT_ERRORS)
        self._errors_seen = 0
        self._sink = sink
        self._retirements = retirements
        self._retirements_seen: dict[str, int] = {}
        self._running = sink.bind(CELERY_WORKER_RUNNING)
        self._reserved = sink.bind(CELERY_WORKER_RESERVED)
        self._concurrency = sink.bind(CELERY_WORKER_CONCURRENCY)
        self._finished = sink.bind(CELERY_WORKER_TRIES)
        self._seen = 0

    def record(self) -> None:
        counts = self._counts()
        self._running.gauge(counts.running)
        self._reserved.gauge(counts.reserved)
        self._concurrency.gauge(self.concurrency)
        if counts.finished > self._seen:
            self._finished.incr(counts.finished - self._seen)
            self._seen = counts.finished
        if self._db_errors is not None:
            errors = self._db_errors()
            if errors > self._errors_seen:
                self._errors.incr(errors - self._errors_seen)
                self._errors_seen = errors
        if self._retirements is not None:
            self._record_retirements(self._retirements())

    def _record_retirements(self, totals: Mapping[str, int]) -> None:
        for reason, total in totals.items():
            seen = self._retirements_seen.get(reason, 0)
            if total > seen:
                self._sink.incr(CELERY_WORKER_TRY_HOST_RETIREMENTS, total - seen, reason=reason)
                self._retirements_seen[reason] = total

    def run(self, stop: threading.Event, every_seconds: float = 5.0) -> threading.Thread:
        """Record every ``every_seconds`` in a daemon thread until ``stop`` is set."""

        def loop() -> None:
            while True:
                try:
                    self.record()
                except Exception:  # an observer never breaks what it observes
                    log.exception("could not record the Celery worker's metrics")
                if stop.wait(every_seconds):
                    return

        thread = threading.Thread(target=loop, name="windvane-celery-worker-metrics", daemon=True)
        thread.start()
        return thread
