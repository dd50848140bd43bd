"""The alerting metrics: delivery latency by channel, callback failures and durations by kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from windvane.alerting import outbox
from windvane.alerting.dag_callbacks import DagCallbackRunner, callback_kind
from windvane.alerting.dispatcher import AlertDispatcher, DispatchConfig
from windvane.core.model.clock import FakeClock
from windvane.core.store.engine import begin_write
from windvane.metrics import RecordingSink
from windvane.metrics.catalogue_alerting import ALERTS_DELIVERY_LATENCY, CALLBACK_DURATION, CALLBACK_FAILURES

from .fakes import NOW, Flaky, Recording, alert
from .test_dag_callbacks import finish_run


def test_delivery_latency_runs_from_the_fact_to_acceptance_including_retries(engine: Engine) -> None:
    assert alert(1).occurred_at == NOW  # the fact (its journal row's recorded_at)
    clock = FakeClock(NOW)
    with begin_write(engine) as conn:
        outbox.add(conn, alert(1), "slack", now=NOW)
        outbox.add(conn, alert(2, channel="email"), "email", now=NOW)
    sink = RecordingSink()
    flaky = Flaky("slack", failures=1, retry_after=30.0)
    d = AlertDispatcher(
        engine, {"slack": flaky, "email": Recording("email")}, clock=clock, metrics=sink, draw=lambda: 0.0,
        config=DispatchConfig(),
    )  # fmt: skip
    clock.advance(2)
    d.run_tick()  # email accepted 2 s after the fact; slack refused, due again 30 s later
    assert sink.values(ALERTS_DELIVERY_LATENCY, channel="email") == [2.0]
    assert sink.values(ALERTS_DELIVERY_LATENCY, channel="slack") == []  # no observation for a failure
    clock.advance(30)
    assert d.run_tick().sent == 1
    assert sink.values(ALERTS_DELIVERY_LATENCY, channel="slack") == [32.0]


def test_callback_failures_and_durations_are_counted_by_kind(engine: Engine, tmp_path: Path) -> None:
    sink = RecordingSink()
    runner = DagCallbackRunner(engine, timeout=30, metrics=sink)
    runner.reader.register()
    finish_run(engine, tmp_path, "failed", "r1")  # on_failure_callback=[mark, boom]: boom raises
    assert runner.run_tick() == 1
    assert sink.total(CALLBACK_FAILURES, kind="dag_failure") == 1 == runner.failures
    [took] = sink.values(CALLBACK_DURATION, kind="dag_failure")  # one call of the hook's list
    assert 0 < took < 30


def test_callback_kinds_are_the_catalogued_ones() -> None:
    assert callback_kind("on_success_callback", None) == "dag_success"
    assert callback_kind("on_failure_callback", None) == "dag_failure"
    assert callback_kind("on_failure_callback", "t") == "task_failure"
    assert callback_kind("on_retry_callback", "t") == "task_retry"
    assert callback_kind("sla_miss_callback", None) == "sla_miss"
    with pytest.raises(ValueError, match="on_execute_callback"):
        callback_kind("on_execute_callback", "t")
