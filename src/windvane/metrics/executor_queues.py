"""Per-queue metrics of an executor that sends tries to queues (the Celery executor).

:class:`ExecutorQueueMetrics` is a scheduler observer: after a pass (at most
once a second) it reads the executor's :meth:`queue_counts` (queue -> tries
queued, running) and :attr:`publish_failures` (queue -> failed broker sends,
a counter), and emits ``windvane_executor_queue_queued_tasks``,
``windvane_executor_queue_running_tasks`` and
``windvane_executor_publish_failures_total``. A queue that empties is set to 0
(its series stays: queues are few and named by operators). Executors without
queues (local, sequential) are not observed (:func:`queue_metrics_for`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from windvane.core.scheduler.observer import LoopStats, SchedulerObserver
from windvane.metrics.catalogue_celery import (
    EXECUTOR_PUBLISH_FAILURES,
    EXECUTOR_QUEUE_QUEUED,
    EXECUTOR_QUEUE_RUNNING,
)
from windvane.metrics.sink import Bound, MetricsSink

#: Seconds between two readings: the counts change every pass, a scrape reads them far less often.
EVERY_SECONDS = 1.0


@runtime_checkable
class QueuedExecutor(Protocol):
    """What an executor with queues offers (:class:`windvane.celery.executor.CeleryExecutor`)."""

    name: str

    def queue_counts(self) -> Mapping[str, tuple[int, int]]: ...

    @property
    def publish_failures(self) -> Mapping[str, int]: ...


class ExecutorQueueMetrics(SchedulerObserver):
    """Emits the executor's per-queue counts after scheduler passes (see the module doc)."""

    def __init__(self, sink: MetricsSink, executor: QueuedExecutor) -> None:
        self.sink = sink
        self.executor = executor
        self._clock = time.monotonic
        self._next = 0.0
        self._gauges: dict[str, tuple[Bound, Bound]] = {}
        self._failures: dict[str, tuple[Bound, int]] = {}

    def loop_finished(self, stats: LoopStats) -> None:
        now = self._clock()
        if now < self._next:
            return
        self._next = now + EVERY_SECONDS
        self.record()

    def record(self) -> None:
        counts = self.executor.queue_counts()
        for queue in set(self._gauges) | set(counts):
            queued, running = counts.get(queue, (0, 0))
            bound = self._gauges.get(queue) or self._bind(queue)
            bound[0].gauge(queued)
            bound[1].gauge(running)
        for queue, total in dict(self.executor.publish_failures).items():
            counter, seen = self._failures.get(queue) or (
                self.sink.bind(EXECUTOR_PUBLISH_FAILURES, executor=self.executor.name, queue=queue),
                0,
            )
            if total > seen:
                counter.incr(total - seen)
            self._failures[queue] = (counter, total)

    def _bind(self, queue: str) -> tuple[Bound, Bound]:
        name = self.executor.name
        bound = (
            self.sink.bind(EXECUTOR_QUEUE_QUEUED, executor=name, queue=queue),
            self.sink.bind(EXECUTOR_QUEUE_RUNNING, executor=name, queue=queue),
        )
        self._gauges[queue] = bound
        return bound


def queue_metrics_for(sink: MetricsSink, executor: object) -> list[SchedulerObserver]:
    """The per-queue observer for ``executor`` if it has queues; none otherwise."""
    if isinstance(executor, QueuedExecutor):
        return [ExecutorQueueMetrics(sink, executor)]
    return []
