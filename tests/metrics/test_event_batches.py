"""The scheduler's run and try events turned into metrics in batches (``batch_seconds``): kept until
a pass finds the oldest ``batch_seconds`` old or enough of them waiting, then all emitted, in order,
none lost; what is left goes out when the scheduler stops or the bundle closes; an event that fails
is logged and counted and the rest of its batch goes on."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from tests.metrics.helpers import StatsdListener
from tests.metrics.test_task_series import T0, finished, key, started
from windvane.core.model.events import TryQueued, TryScheduled
from windvane.core.scheduler.observer import LoopStats
from windvane.metrics import catalogue as m
from windvane.metrics.sink import RecordingSink
from windvane.metrics.statsd_sink import StatsdSink
from windvane.metrics.subscriber import BATCH_EVENTS, MetricsObserver
from windvane.metrics.wiring import build_metrics
from windvane.settings import MetricsSettings


def statsd_observer(listener: StatsdListener, now: list[float], batch: float = 0.25) -> MetricsObserver:
    sink = StatsdSink(host="127.0.0.1", port=listener.port, strict=True, datadog_tags=True)
    return MetricsObserver(sink, executor_name="local", batch_seconds=batch, monotonic=lambda: now[0])


def ti_lines(listener: StatsdListener, name: str) -> list[str]:
    """The raw lines of ``windvane.<name>`` in the packets received since the last call."""
    seen = len(listener.packets)
    listener.drain()
    return [
        raw
        for packet in listener.packets[seen:]
        for raw in packet.split("\n")
        if raw.startswith(f"windvane.{name}:")
    ]


def test_try_events_wait_for_a_pass_after_batch_seconds_then_every_one_arrives_whole(
    statsd_listener: StatsdListener,
) -> None:
    now = [100.0]
    observer = statsd_observer(statsd_listener, now)
    for i in range(40):
        observer.try_started(started(key(f"task_{i:02d}")))
        observer.try_finished(finished(key(f"task_{i:02d}")))
    assert ti_lines(statsd_listener, "ti.start") == []  # kept, not emitted
    now[0] += 0.1
    observer.loop_finished(LoopStats())
    observer.sink.flush()
    assert ti_lines(statsd_listener, "ti.start") == []  # the oldest is 0.1 s old: still kept
    now[0] += 0.2
    observer.loop_finished(LoopStats())
    observer.sink.flush()
    seen = len(statsd_listener.packets)
    statsd_listener.drain()
    packets = statsd_listener.packets[seen:]
    lines = [raw for packet in packets for raw in packet.split("\n")]
    starts = [raw for raw in lines if raw.startswith("windvane.ti.start:")]
    assert sorted(starts) == [f"windvane.ti.start:1|c|#dag_id:d,task_id:task_{i:02d}" for i in range(40)]
    assert len([raw for raw in lines if raw.startswith("windvane.ti_successes:")]) == 40
    assert len(packets) > 1 and all(len(packet.encode()) <= 1432 for packet in packets)


def test_a_full_batch_is_emitted_by_the_next_pass_without_waiting(statsd_listener: StatsdListener) -> None:
    now = [5.0]
    observer = statsd_observer(statsd_listener, now)
    for i in range(BATCH_EVENTS):
        observer.try_started(started(key(f"t{i}")))
    observer.loop_finished(LoopStats())  # no time has passed
    observer.sink.flush()
    assert len(ti_lines(statsd_listener, "ti.start")) == BATCH_EVENTS


def test_kept_events_go_out_when_the_scheduler_stops(statsd_listener: StatsdListener) -> None:
    now = [0.0]
    observer = statsd_observer(statsd_listener, now)
    observer.try_finished(finished(key()))
    observer.scheduler_stopped()
    assert ti_lines(statsd_listener, "ti_successes") == ["windvane.ti_successes:1|c|#dag_id:d,task_id:t"]


def test_kept_events_go_out_when_the_bundle_closes(statsd_listener: StatsdListener) -> None:
    settings = MetricsSettings(statsd_on=True, statsd_host="127.0.0.1", statsd_port=statsd_listener.port)
    bundle = build_metrics(settings, executor_name="local", service="scheduler")
    assert bundle.metrics_observer is not None
    # (The fan-out gives the metrics observer the lean form, as the scheduler calls it; the typed
    # hook on the observer itself is what a direct caller uses.)
    bundle.metrics_observer.try_finished(finished(key()))
    assert ti_lines(statsd_listener, "ti_successes") == []  # build_metrics batches
    bundle.close()
    assert ti_lines(statsd_listener, "ti_successes") == ["windvane.ti_successes:1|c|#dag_id:d,task_id:t"]


def events_of_two_runs() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for run in (1, 2):
        k = key("t", run=run)
        out.append(("try_scheduled", TryScheduled(k, 1, 1, "default_pool", "PythonOperator", T0)))
        queued_at = T0 + timedelta(seconds=run)
        queued = TryQueued(
            k, 1, 1, "default_pool", "PythonOperator", "default", queued_at, "manual", T0, True
        )
        out += [("try_queued", queued), ("try_started", started(k)), ("try_finished", finished(k))]
    return out


def test_batched_events_make_the_same_metrics_as_events_emitted_one_by_one() -> None:
    """Order matters: a try's ready time is kept by try_scheduled until try_queued reads it."""
    sinks = {}
    for batch in (0.0, 0.25):
        sink = sinks[batch] = RecordingSink()
        observer = MetricsObserver(sink, executor_name="local", batch_seconds=batch, monotonic=lambda: 0.0)
        for hook, event in events_of_two_runs():
            getattr(observer, hook)(event)
        observer.scheduler_stopped()
    immediate, batched = ([e for e in sinks[b].events if e[1] != m.LOOP_DURATION.name] for b in (0.0, 0.25))
    assert batched == immediate
    assert sinks[0.25].values(m.TASK_SCHEDULED_DURATION, dag_id="d") == [1.0, 2.0]


def test_an_event_that_fails_is_logged_and_counted_and_the_rest_of_its_batch_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = RecordingSink()
    observer = MetricsObserver(sink, executor_name="local", batch_seconds=0.25, monotonic=lambda: 0.0)
    observer.try_finished(finished(key("a")))
    observer.try_finished(None)  # type: ignore[arg-type]
    observer.try_finished(None)  # type: ignore[arg-type]
    observer.try_finished(finished(key("b")))
    with caplog.at_level(logging.DEBUG, "windvane.metrics"):
        observer.scheduler_stopped()
    assert observer.failures == 2
    assert sink.total(m.TI_SUCCESSES) == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "try_finished" in errors[0].getMessage()  # logged once, then counted


def test_closing_the_bundle_never_raises_when_its_last_events_cannot_be_emitted(
    statsd_listener: StatsdListener, caplog: pytest.LogCaptureFixture
) -> None:
    settings = MetricsSettings(statsd_on=True, statsd_host="127.0.0.1", statsd_port=statsd_listener.port)
    bundle = build_metrics(settings, executor_name="local", service="scheduler")
    assert bundle.metrics_observer is not None
    bundle.metrics_observer.try_finished(finished(key()))
    sink = bundle.metrics_observer.sink
    bundle.metrics_observer.sink = None  # type: ignore[assignment]  # emitting now raises
    with caplog.at_level(logging.WARNING, "windvane.metrics"):
        bundle.close()
    assert "could not be emitted" in caplog.text
    sink.close()
