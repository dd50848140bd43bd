"""The Celery executor's metrics: per-queue counts and publish failures from the scheduler's process,
and a worker's own ``/metrics``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import httpx
from sqlalchemy import Engine

from tests.celery_executor.conftest import StartWorker
from tests.celery_executor.own_redis import free_port
from tests.celery_executor.runs import drive, trigger
from tests.celery_executor.workers import Broker
from windvane.celery.retirements import SharedRetirements
from windvane.celery.worker_metrics import WorkerCounts, WorkerMetrics
from windvane.core.scheduler.observer import LoopStats
from windvane.metrics.catalogue_celery import CELERY, CELERY_WORKER_TRY_HOST_RETIREMENTS
from windvane.metrics.executor_queues import ExecutorQueueMetrics, queue_metrics_for
from windvane.metrics.metric import Kind
from windvane.metrics.sink import RecordingSink
from windvane.testing.waiting import wait_for


class FakeQueues:
    name = "celery"

    def __init__(self) -> None:
        self.counts: dict[str, tuple[int, int]] = {"default": (2, 1), "gpu": (0, 1)}
        self.failures: Counter[str] = Counter()

    def queue_counts(self) -> Mapping[str, tuple[int, int]]:
        return self.counts

    @property
    def publish_failures(self) -> Mapping[str, int]:
        return self.failures


def test_queue_counts_and_publish_failures_become_metrics() -> None:
    sink, executor = RecordingSink(), FakeQueues()
    metrics = ExecutorQueueMetrics(sink, executor)
    metrics.loop_finished(LoopStats())
    gauges = {(n, lb["queue"]): v for k, n, v, lb in sink.events if k is Kind.GAUGE}
    assert gauges == {
        ("windvane_executor_queue_queued_tasks", "default"): 2,
        ("windvane_executor_queue_running_tasks", "default"): 1,
        ("windvane_executor_queue_queued_tasks", "gpu"): 0,
        ("windvane_executor_queue_running_tasks", "gpu"): 1,
    }
    sink.events.clear()
    executor.counts = {}  # the queue emptied: its gauges go to 0
    executor.failures["default"] += 3
    metrics.record()
    executor.failures["default"] += 1
    metrics.record()
    counters = [(n, v) for k, n, v, _ in sink.events if k is Kind.COUNTER]
    assert counters == [
        ("windvane_executor_publish_failures_total", 3),
        ("windvane_executor_publish_failures_total", 1),
    ]
    assert {v for k, _, v, _ in sink.events if k is Kind.GAUGE} == {0}


def test_only_executors_with_queues_are_observed() -> None:
    assert queue_metrics_for(RecordingSink(), object()) == []
    assert len(queue_metrics_for(RecordingSink(), FakeQueues())) == 1


def test_a_worker_serves_its_metrics(start_worker: StartWorker) -> None:
    port = free_port()
    env = {"WINDVANE__METRICS__PROMETHEUS_ON": "true", "WINDVANE__CELERY__PROMETHEUS_PORT": str(port)}
    start_worker(concurrency=3, env=env)
    texts: list[str] = []

    def served() -> bool:
        try:
            texts.append(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
        except httpx.HTTPError:
            return False
        return "windvane_celery_worker_concurrency 3.0" in texts[-1]

    wait_for(served, what="the worker's /metrics")
    text = texts[-1]
    for metric in CELERY:
        if metric.name.startswith("windvane_celery_worker_"):
            assert f"# HELP {metric.name} " in text, metric.name


LEAKY = """
import os
import pendulum
from windvane import DAG, PythonOperator

def set_env():
    os.environ["WINDVANE_TEST_LEAK"] = "1"  # a trace: the try host that ran this retires

with DAG("celery_leaky", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
    a, b, c = (PythonOperator(task_id=t, python_callable=set_env) for t in "abc")
    a >> b >> c
"""


def test_a_worker_counts_its_pool_processes_try_host_retirements_by_reason(
    engine: Engine, broker: Broker, start_worker: StartWorker, tmp_path: Path
) -> None:
    trigger(engine, tmp_path, LEAKY, "celery_leaky")
    port = free_port()
    env = {
        "WINDVANE__METRICS__PROMETHEUS_ON": "true",
        "WINDVANE__CELERY__PROMETHEUS_PORT": str(port),
        "WINDVANE__CELERY__TRIES_PER_PROCESS": "100",
    }
    start_worker(concurrency=1, env=env)
    assert drive(engine, broker, parallelism=1) == "success"
    line = 'windvane_celery_worker_try_host_retirements_total{reason="environ_changed"} 3.0'
    texts: list[str] = []

    def counted() -> bool:  # the worker records its counts every few seconds
        try:
            texts.append(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
        except httpx.HTTPError:
            return False
        return line in texts[-1]

    wait_for(counted, timeout=30, what=f"{line!r} in the worker's /metrics")
    assert 'windvane_celery_worker_try_host_retirements_total{reason="quota"}' not in texts[-1]


def test_retirements_are_emitted_as_increments_and_unknown_reasons_dropped() -> None:
    shared = SharedRetirements()
    sink = RecordingSink()
    metrics = WorkerMetrics(sink, 1, counts=lambda: WorkerCounts(0, 0, 0), retirements=shared.totals)
    shared.add({"quota": 2, "nonsense": 5})
    metrics.record()
    shared.add({"quota": 1, "thread_left": 1})
    metrics.record()
    metrics.record()  # nothing new: nothing emitted
    name = CELERY_WORKER_TRY_HOST_RETIREMENTS.name
    counted = [(v, lb["reason"]) for _, n, v, lb in sink.events if n == name]
    assert counted == [(2, "quota"), (1, "quota"), (1, "thread_left")]
