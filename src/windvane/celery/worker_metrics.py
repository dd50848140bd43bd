"""A Celery worker's ``/metrics``: what its main process knows about the tries it holds.

Served from the worker's main process (the one that talks to the broker) with
a collector read at scrape time, so counting costs the tries nothing:
``windvane_celery_worker_tries_running`` (handed to a pool process),
``windvane_celery_worker_tries_reserved`` (prefetched, waiting for one),
``windvane_celery_worker_tries_total`` (finished since start) and
``windvane_celery_worker_concurrency``. The names are in the metrics
catalogue (``windvane.metrics.catalogue_celery``).
"""

from __future__ import annotations

from collections.abc import Iterator

from celery.worker import state
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from windvane.celery.app import TASK_NAME


class WorkerCollector(Collector):
    """Reads :mod:`celery.worker.state` when scraped."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        active, reserved = len(state.active_requests), len(state.reserved_requests)
        yield _gauge("windvane_celery_worker_tries_running", "Tries a pool process is running now.", active)
        yield _gauge(
            "windvane_celery_worker_tries_reserved",
            "Tries received, waiting for a pool process.",
            reserved - active,
        )
        yield _gauge(
            "windvane_celery_worker_concurrency", "Pool processes (tries at once).", self.concurrency
        )
        total = CounterMetricFamily(
            "windvane_celery_worker_tries", "Tries this worker finished since it started."
        )
        total.add_metric([], float(state.total_count.get(TASK_NAME, 0)))
        yield total


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=max(0.0, float(value)))


def serve_worker_metrics(host: str, port: int, concurrency: int) -> int:
    """Serve ``/metrics`` on ``host:port`` (0: any free port) in a thread; the port it took."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(WorkerCollector(concurrency))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)
