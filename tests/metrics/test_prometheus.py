"""The Prometheus collector: exposition, bucket edges, and scrapes racing the scheduler's writes."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, generate_latest

from windvane.metrics import catalogue as m
from windvane.metrics.prometheus_sink import PrometheusSink


def test_exposition_types_help_and_bucket_edges() -> None:
    registry = CollectorRegistry()
    sink = PrometheusSink(registry, strict=True)
    timer = sink.bind(m.TASK_DURATION, dag_id="d", task_id="t")
    for value in (0.001, 0.0011, 14400, 14400.5):
        timer.observe(value)
    sink.incr(m.TI_START, 2, dag_id="d", task_id="t")
    sink.gauge(m.POOL_OPEN_SLOTS, -1, pool="p")
    text = generate_latest(registry).decode()
    assert "# TYPE windvane_task_duration_seconds histogram" in text
    assert "# TYPE windvane_ti_start_total counter" in text
    assert "# HELP windvane_pool_open_slots Free slots of the pool" in text
    get = registry.get_sample_value
    labels = {"dag_id": "d", "task_id": "t"}
    assert get("windvane_task_duration_seconds_bucket", {**labels, "le": "0.001"}) == 1  # le is inclusive
    assert get("windvane_task_duration_seconds_bucket", {**labels, "le": "0.01"}) == 2
    assert get("windvane_task_duration_seconds_bucket", {**labels, "le": "14400.0"}) == 3
    assert get("windvane_task_duration_seconds_bucket", {**labels, "le": "+Inf"}) == 4
    assert get("windvane_task_duration_seconds_count", labels) == 4
    assert get("windvane_task_duration_seconds_sum", labels) == 0.001 + 0.0011 + 14400 + 14400.5
    assert get("windvane_ti_start_total", labels) == 2
    assert get("windvane_pool_open_slots", {"pool": "p"}) == -1
    assert get("windvane_scheduler_heartbeat_total") == 0  # label-less metrics exist from the start


def test_scrapes_while_new_series_appear_are_consistent() -> None:
    registry = CollectorRegistry()
    sink = PrometheusSink(registry, strict=True)
    done = threading.Event()
    problems: list[str] = []

    def scrape() -> None:
        while not done.is_set():
            for family in registry.collect():
                if family.name == "windvane_task_duration_seconds":
                    per_key: dict[tuple[str, ...], dict[str, float]] = {}
                    for s in family.samples:
                        key = (s.labels["dag_id"], s.labels["task_id"])
                        per_key.setdefault(key, {})[s.name + s.labels.get("le", "")] = s.value
                    name = "windvane_task_duration_seconds"
                    for pair, got in per_key.items():
                        if got[f"{name}_count"] != got[f"{name}_bucket+Inf"]:
                            problems.append(f"{pair}: count and +Inf bucket differ")

    thread = threading.Thread(target=scrape)
    thread.start()
    try:
        for i in range(3000):
            sink.observe(m.TASK_DURATION, i / 100, dag_id=f"d{i % 50}", task_id=f"t{i % 7}")
            sink.incr(m.TI_START, dag_id=f"d{i % 50}", task_id=f"t{i}")
    finally:
        done.set()
        thread.join()
    assert not problems
    total = sum(s.value for f in registry.collect() if f.name == "windvane_ti_start" for s in f.samples)
    assert total == 3000
