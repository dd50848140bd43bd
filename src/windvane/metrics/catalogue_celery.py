"""The Celery executor's part of the catalogue: its queues and broker sends, and its workers.

Kept apart from :mod:`windvane.metrics.catalogue` only for size; that module
adds :data:`CELERY` to :data:`~windvane.metrics.catalogue.CATALOGUE`.
The ``windvane_executor_queue_*`` and publish-failure metrics come from the
scheduler's process (:mod:`windvane.metrics.executor_queues`); the
``windvane_celery_worker_*`` ones from each worker's own ``/metrics``
(:mod:`windvane.celery.worker_metrics`): how many workers there are is
``count(windvane_celery_worker_concurrency)`` in Prometheus.
"""

from __future__ import annotations

from windvane.core.model.try_host_retirements import RETIREMENT_REASONS
from windvane.metrics.metric import Kind, Metric

C, G = Kind.COUNTER, Kind.GAUGE

EXECUTOR_QUEUE_QUEUED = Metric(
    "windvane_executor_queue_queued_tasks",
    G,
    "task instances",
    "Tries sent to a queue (Celery) and not started yet, by queue.",
    "executor.queue.queued_tasks",
    ("executor", "queue"),
    "executor.queue.queued_tasks.{executor}.{queue}",
)
EXECUTOR_QUEUE_RUNNING = Metric(
    "windvane_executor_queue_running_tasks",
    G,
    "task instances",
    "Tries of a queue (Celery) running on a worker, by queue.",
    "executor.queue.running_tasks",
    ("executor", "queue"),
    "executor.queue.running_tasks.{executor}.{queue}",
)
EXECUTOR_PUBLISH_FAILURES = Metric(
    "windvane_executor_publish_failures_total",
    C,
    "sends",
    "Sends of a try to the broker that failed (each is retried until it lands), by queue.",
    "executor.publish_failures",
    ("executor", "queue"),
    "executor.publish_failures.{executor}.{queue}",
)
CELERY_WORKER_RUNNING = Metric(
    "windvane_celery_worker_tries_running",
    G,
    "task instances",
    "Tries a pool process of this Celery worker is running now.",
    "celery_worker.tries_running",
)
CELERY_WORKER_RESERVED = Metric(
    "windvane_celery_worker_tries_reserved",
    G,
    "task instances",
    "Tries this Celery worker received that wait for a free pool process.",
    "celery_worker.tries_reserved",
)
CELERY_WORKER_CONCURRENCY = Metric(
    "windvane_celery_worker_concurrency",
    G,
    "processes",
    "Pool processes of this Celery worker (tries it runs at once).",
    "celery_worker.concurrency",
)
CELERY_WORKER_TRIES = Metric(
    "windvane_celery_worker_tries_total",
    C,
    "task instances",
    "Tries this Celery worker finished since it started.",
    "celery_worker.tries",
)
CELERY_WORKER_DB_TRANSIENT_ERRORS = Metric(
    "windvane_celery_worker_db_transient_errors_total",
    C,
    "errors",
    "Transient metadata-database errors (dropped connections, locks, a full disk) this Celery "
    "worker's pool processes rode out claiming, heartbeating or recording tries.",
    "celery_worker.db_transient_errors",
)

CELERY_WORKER_TRY_HOST_RETIREMENTS = Metric(
    "windvane_celery_worker_try_host_retirements_total",
    C,
    "processes",
    "Try hosts ([celery] tries_per_process) this Celery worker's pool processes retired, by reason: "
    "the reasons of windvane_executor_try_host_retirements_total, which counts LocalExecutor workers.",
    "celery_worker.try_host_retirements",
    ("reason",),
    "celery_worker.try_host_retirements.{reason}",
    reasons=RETIREMENT_REASONS,
)

CELERY: tuple[Metric, ...] = (
    EXECUTOR_QUEUE_QUEUED,
    EXECUTOR_QUEUE_RUNNING,
    EXECUTOR_PUBLISH_FAILURES,
    CELERY_WORKER_RUNNING,
    CELERY_WORKER_RESERVED,
    CELERY_WORKER_CONCURRENCY,
    CELERY_WORKER_TRIES,
    CELERY_WORKER_DB_TRANSIENT_ERRORS,
    CELERY_WORKER_TRY_HOST_RETIREMENTS,
)
