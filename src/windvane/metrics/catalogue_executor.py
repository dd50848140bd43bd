"""The executors' try hosts in the catalogue: kept apart from :mod:`windvane.metrics.catalogue`
only for size; that module adds :data:`EXECUTOR_EXTRA` to its ``CATALOGUE`` after the executor's
own metrics."""

from __future__ import annotations

from windvane.core.model.try_host_retirements import RETIREMENT_REASONS
from windvane.metrics.metric import Kind, Metric

C = Kind.COUNTER
TRY_HOST_RETIREMENTS = Metric(
    "windvane_executor_try_host_retirements_total",
    C,
    "processes",
    "Try hosts (one forked process running several tries of one DAG file, [executor] "
    "tries_per_process) retired, by reason: quota, file_changed, unloadable and host_ended are "
    "routine; globals_changed, thread_left, process_left, environ_changed and cwd_changed mean a try "
    "left a trace, and if every try of a file does, each pays a fork (see docs/scaling.md). "
    "LocalExecutor workers (Celery workers: windvane_celery_worker_try_host_retirements_total).",
    "executor.try_host_retirements",
    ("executor", "reason"),
    "executor.try_host_retirements.{executor}.{reason}",
    reasons=RETIREMENT_REASONS,
)

EXECUTOR_EXTRA: tuple[Metric, ...] = (TRY_HOST_RETIREMENTS,)
