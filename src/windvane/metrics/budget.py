"""The series budget: the most Prometheus series a deployment of a given size can produce.

Computed from the catalogue, so it stays true as metrics are added: each
metric contributes (label sets) x (series per label set), where a histogram
has one series per bucket plus ``+Inf``, ``_sum`` and ``_count``, and
``(dag_id, task_id)`` counts once per task, not DAGs x tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from windvane.metrics.catalogue import CATALOGUE
from windvane.metrics.metric import Kind, Metric


@dataclass(frozen=True, slots=True)
class Fleet:
    """The size of a deployment: what the label values range over."""

    dags: int
    tasks: int
    pools: int = 1
    executors: int = 1
    files: int | None = None  # default: one file per DAG
    channels: int = 3
    #: Celery queues tries are sent to (1: the default queue).
    queues: int = 1

    def open_label(self, key: str) -> int:
        sizes = {
            "dag_id": self.dags,
            "pool": self.pools,
            "executor": self.executors,
            "file": self.dags if self.files is None else self.files,
            "channel": self.channels,
            "queue": self.queues,
            "version": 1,
            "service": 1,
        }
        return sizes[key]


def series_per_label_set(metric: Metric) -> int:
    """1 for counters and gauges; buckets + 3 for histograms."""
    return len(metric.buckets) + 3 if metric.kind is Kind.HISTOGRAM else 1


def label_sets(metric: Metric, fleet: Fleet) -> int:
    """The most label-value combinations ``metric`` can take in ``fleet``."""
    keys = set(metric.labels)
    total = 1
    if "task_id" in keys:
        total *= fleet.tasks
        keys -= {"dag_id", "task_id"}
    for key in sorted(keys):
        closed = metric.values_of(key)
        total *= len(closed) if closed is not None else fleet.open_label(key)
    return total


def metric_budget(metric: Metric, fleet: Fleet) -> int:
    return label_sets(metric, fleet) * series_per_label_set(metric)


def series_budget(fleet: Fleet) -> int:
    """The most series ``/metrics`` can hold for ``fleet`` (one process exposes a subset)."""
    return sum(metric_budget(m, fleet) for m in CATALOGUE)


def per_dag_and_task() -> tuple[int, int, int]:
    """(fixed series, series per DAG, series per task) with one pool, executor, file per DAG, 3 channels."""
    base = series_budget(Fleet(dags=0, tasks=0))
    per_dag = series_budget(Fleet(dags=1, tasks=0)) - base
    per_task = series_budget(Fleet(dags=0, tasks=1)) - base
    return base, per_dag, per_task
