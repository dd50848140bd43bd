"""The metrics observer takes the scheduler's per-task-instance hooks lean (plain values, no event
built for it) and makes exactly the metrics the typed events made, beside observers that take them
typed."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from windvane.core.model import events
from windvane.core.model.events import micros
from windvane.core.scheduler import announce
from windvane.core.scheduler.observer import LEAN_HOOKS, SafeObserver
from windvane.metrics import catalogue as m
from windvane.metrics.sink import RecordingSink
from windvane.metrics.subscriber import MetricsObserver

DAG_SOURCE = """
from datetime import datetime, timedelta, timezone
from windvane import DAG
from windvane.core.authoring.operators.python import PythonOperator

def ok():
    return None

def boom():
    raise RuntimeError("boom")

with DAG("lean", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    first = PythonOperator(task_id="first", python_callable=ok)
    first >> [PythonOperator(task_id=f"t{i}", python_callable=ok) for i in range(6)]
    first >> PythonOperator(task_id="fails", python_callable=boom, retries=1, retry_delay=timedelta(0))
"""


class TypedMetricsObserver(MetricsObserver):
    """The same observer taking every hook typed, as before the lean hooks."""

    lean_hooks = frozenset()


def test_micros_gives_what_the_events_datetimes_hold() -> None:
    r = random.Random(15)
    for i in range(20_000):
        a = r.uniform(1.6e9, 1.9e9)
        if i % 3 == 0:
            a = math.floor(a * 1e6) / 1e6 + 0.5e-6  # half a microsecond: the rounding's edge
        b = a + r.choice([0.0, r.uniform(0, 5), r.uniform(0, 1e-3)])
        at_a, at_b = datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC)
        assert micros(a) / 1e6 == at_a.timestamp()
        assert (micros(b) - micros(a)) / 1e6 == (at_b - at_a).total_seconds()


def test_lean_and_typed_hooks_make_the_same_metrics_in_a_real_run(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One scheduler, a lean and a typed metrics observer side by side (as ``windvane scheduler``
    nests the bundle's fan-out beside its own typed observers): the same metrics, each once; the
    typed events are built only for the typed one."""
    from tests.sensors.harness import Runtime

    built: list[str] = []
    for name in ("TryScheduled", "TryQueued", "TryStarted", "TryFinished"):
        real = getattr(events, name)

        def counting(*args: object, _real: type = real, _name: str = name) -> object:
            built.append(_name)
            return _real(*args)

        monkeypatch.setattr(announce, name, counting)
    lean_sink, typed_sink = RecordingSink(), RecordingSink()
    lean = MetricsObserver(lean_sink, executor_name="local", batch_seconds=0.25)
    typed = TypedMetricsObserver(typed_sink, executor_name="local", batch_seconds=0.25)
    runtime = Runtime(engine, tmp_path)
    runtime.add_file(DAG_SOURCE)
    run_id = runtime.trigger("lean")
    runtime.start(observer=SafeObserver([SafeObserver([lean]), typed]))
    try:
        assert runtime.wait_run("lean", run_id) == "failed"
    finally:
        runtime.stop()
    per_ti = [e for e in lean_sink.events if e[3].get("task_id") or e[1].startswith("windvane_task_")]
    assert len(per_ti) > 40  # 9 tries: starts, durations, finishes, successes/failures, waits
    # The ready time is the one value read from the clock at the hook (each form reads it at its own
    # call, microseconds apart; the fake-clock scenario of test_scheduler_metrics pins it exactly).
    ready = m.TASK_SCHEDULED_DURATION.name
    assert [e for e in lean_sink.events if e[1] != ready] == [e for e in typed_sink.events if e[1] != ready]
    lean_ready, typed_ready = (
        lean_sink.values(m.TASK_SCHEDULED_DURATION),
        typed_sink.values(m.TASK_SCHEDULED_DURATION),
    )
    assert len(lean_ready) == len(typed_ready) == 9
    assert all(abs(a - b) < 0.05 for a, b in zip(lean_ready, typed_ready, strict=True))
    # 8 TIs ready, queued, started, finished, and the retry again: built once each, for `typed` only.
    assert sorted(set(built)) == ["TryFinished", "TryQueued", "TryScheduled", "TryStarted"]
    assert built.count("TryFinished") == 9


def test_only_a_typed_listener_gets_events_built() -> None:
    """With the metrics observer alone, the announcer builds no per-TI event at all."""
    observer = SafeObserver([MetricsObserver(RecordingSink(), executor_name="local")])
    assert observer.lean_hooks == LEAN_HOOKS
    assert not any(observer.listens_to(hook) for hook in LEAN_HOOKS)
