"""The StatsD wire format, read back from a real UDP socket."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.metrics.helpers import Line, StatsdListener
from windvane.metrics import catalogue as m
from windvane.metrics.metric import Kind, Metric
from windvane.metrics.multi_sink import MultiSink
from windvane.metrics.sink import MetricsUsageError
from windvane.metrics.statsd_names import _TAG_UNSAFE, tag_value, wire_number
from windvane.metrics.statsd_sink import StatsdSink
from windvane.metrics.udp_sender import UdpSender


def sink_to(listener: StatsdListener, **options: object) -> StatsdSink:
    """A sink to ``listener``; legacy dotted names unless ``datadog_tags=True``."""
    options.setdefault("datadog_tags", False)
    return StatsdSink(host="127.0.0.1", port=listener.port, strict=True, **options)  # type: ignore[arg-type]


def test_legacy_names_put_label_values_in_the_name_like_airflow(statsd_listener: StatsdListener) -> None:
    s = sink_to(statsd_listener)
    s.observe(m.DAGRUN_DURATION, 1.5, dag_id="etl", state="success", run_type="scheduled")
    s.observe(m.SCHEDULE_DELAY, 2.0, dag_id="etl")
    s.observe(m.FIRST_TASK_DELAY, 0.25, dag_id="etl", run_type="manual")
    s.observe(m.TASK_DURATION, 0.001, dag_id="etl", task_id="group.load")
    s.incr(m.TI_FINISH, dag_id="etl", task_id="load", state="failed")
    s.incr(m.TI_SUCCESSES, dag_id="etl", task_id="load")
    s.gauge(m.POOL_OPEN_SLOTS, 3, pool="default_pool")
    s.gauge(m.EXECUTOR_OPEN_SLOTS, 7, executor="local")
    s.gauge(m.PARSE_LAST_DURATION, 0.5, file="team/etl.py")
    s.incr(m.SCHEDULER_HEARTBEAT)
    s.observe(m.LOOP_DB_QUERIES, 12)
    assert statsd_listener.drain() and [p for p in statsd_listener.packets] == [
        "windvane.dagrun.duration.success.etl:1500|ms",
        "windvane.dagrun.schedule_delay.etl:2000|ms",
        "windvane.dagrun.etl.first_task_scheduling_delay:250|ms",
        "windvane.dag.etl.group.load.duration:1|ms",
        "windvane.ti.finish.etl.load.failed:1|c",
        "windvane.ti_successes:1|c",
        "windvane.pool.open_slots.default_pool:3|g",
        "windvane.executor.open_slots.local:7|g",
        "windvane.dag_processing.last_duration.team_etl_py:0.5|g",
        "windvane.scheduler_heartbeat:1|c",
        "windvane.scheduler.loop_db_queries:12|h",
    ]


def test_dogstatsd_tags_keep_the_short_name(statsd_listener: StatsdListener) -> None:
    s = sink_to(statsd_listener, datadog_tags=True, prefix="af")
    s.observe(m.DAGRUN_DURATION, 0.0123, dag_id="etl", state="failed", run_type="backfill")
    s.incr(m.TI_FINISH, dag_id="a,b|c#d e.f", task_id="#t\nü", state="success")
    statsd_listener.drain()
    assert statsd_listener.packets == [
        "af.dagrun.duration.failed:12.3|ms|#dag_id:etl,run_type:backfill",
        "af.ti.finish:1|c|#dag_id:a_b_c#d e.f,task_id:_t_ü,state:success",
    ]


def test_negative_gauges_are_not_read_as_decrements(statsd_listener: StatsdListener) -> None:
    sink_to(statsd_listener).gauge(m.POOL_OPEN_SLOTS, -2, pool="p")
    statsd_listener.drain()
    assert statsd_listener.packets == ["windvane.pool.open_slots.p:0|g\nwindvane.pool.open_slots.p:-2|g"]


def test_unchanged_gauges_are_not_passed_on_at_once(statsd_listener: StatsdListener) -> None:
    multi = MultiSink([sink_to(statsd_listener)], strict=True)
    bound = multi.bind(m.EXECUTOR_OPEN_SLOTS, executor="local")
    for value in (1, 1, 1, 2, 2, 1):
        multi.gauge(m.DAGBAG_SIZE, value)
        bound.gauge(value + 10)
    assert [(line.name, line.value) for line in statsd_listener.drain()] == [
        ("windvane.dagbag_size", 1),
        ("windvane.executor.open_slots.local", 11),
        ("windvane.dagbag_size", 2),
        ("windvane.executor.open_slots.local", 12),
        ("windvane.dagbag_size", 1),
        ("windvane.executor.open_slots.local", 11),
    ]


def test_held_lines_go_out_in_few_packets_on_flush(statsd_listener: StatsdListener) -> None:
    s = sink_to(statsd_listener)
    s.hold()
    for i in range(100):
        s.incr(m.TI_START, dag_id=f"dag_{i:03d}", task_id="task")
    s.gauge(m.POOL_OPEN_SLOTS, -1, pool="p")
    assert len(statsd_listener.drain()) == 64  # a full buffer is sent before the flush
    s.flush()
    lines = statsd_listener.drain()
    assert len(lines) == 102 and lines[-1].value == -1
    assert all(len(packet) <= 1432 for packet in statsd_listener.packets)
    assert len(statsd_listener.packets) < 10
    s.incr(m.SCHEDULER_HEARTBEAT)  # not held any more
    assert statsd_listener.drain()[-1].name == "windvane.scheduler_heartbeat"


def test_bound_metrics_check_once_and_emit_like_the_sink(statsd_listener: StatsdListener) -> None:
    s = sink_to(statsd_listener, datadog_tags=True)
    s.bind(m.DAGRUN_DURATION, dag_id="d", state="failed", run_type="manual").observe(0.5)
    s.bind(m.TI_START, dag_id="d", task_id="t").incr()
    s.bind(m.POOL_OPEN_SLOTS, pool="p").gauge(-3)
    statsd_listener.drain()
    assert statsd_listener.packets == [
        "windvane.dagrun.duration.failed:500|ms|#dag_id:d,run_type:manual",
        "windvane.ti.start:1|c|#dag_id:d,task_id:t",
        "windvane.pool.open_slots:0|g|#pool:p\nwindvane.pool.open_slots:-3|g|#pool:p",
    ]
    with pytest.raises(MetricsUsageError):
        s.bind(m.TI_START, dag_id="d")
    with pytest.raises(MetricsUsageError):
        s.bind(m.TI_START, dag_id="d", task_id="t").observe(1)


@pytest.mark.parametrize(
    ("allow", "block", "sent"),
    [
        ((), (), {"windvane.ti.start", "windvane.scheduler_heartbeat", "windvane.dagrun.duration.success"}),
        (("^ti\\.",), (), {"windvane.ti.start"}),
        (("HEARTBEAT",), (), {"windvane.scheduler_heartbeat"}),
        ((), ("duration",), {"windvane.ti.start", "windvane.scheduler_heartbeat"}),
        (("^ti",), ("^ti",), {"windvane.ti.start"}),  # an allow list wins, like Airflow
        ((r"^\S+_heartbeat$",), (), {"windvane.scheduler_heartbeat"}),  # \S stays \S (not lower-cased to \s)
        ((), (r"\D\.start",), {"windvane.scheduler_heartbeat", "windvane.dagrun.duration.success"}),
    ],
)
def test_allow_and_block_lists_are_regular_expressions(
    statsd_listener: StatsdListener, allow: tuple[str, ...], block: tuple[str, ...], sent: set[str]
) -> None:
    s = sink_to(statsd_listener, allow_list=allow, block_list=block, datadog_tags=True)
    s.incr(m.TI_START, dag_id="d", task_id="t")
    s.incr(m.SCHEDULER_HEARTBEAT)
    s.observe(m.DAGRUN_DURATION, 1, dag_id="d", state="success", run_type="manual")
    assert {line.name for line in statsd_listener.drain()} == sent


def test_an_unresolvable_host_is_logged_once_and_the_sink_counts_what_it_drops(
    caplog: pytest.LogCaptureFixture, statsd_listener: StatsdListener
) -> None:
    from prometheus_client import CollectorRegistry

    from windvane.metrics.prometheus_sink import PrometheusSink

    with caplog.at_level(logging.ERROR, "windvane.metrics"):
        s = StatsdSink(host="statsd.invalid", port=8125)
        for _ in range(5):
            s.incr(m.SCHEDULER_HEARTBEAT)
    assert not s.enabled and s.dropped == 5
    assert s.failures["unresolvable_host"] == 1
    assert len(caplog.records) == 1 and "statsd.invalid" in caplog.records[0].getMessage()
    registry = CollectorRegistry()
    MultiSink([s, PrometheusSink(registry)])
    labels = {"backend": "statsd", "reason": "unresolvable_host"}
    assert registry.get_sample_value("windvane_metrics_errors_total", labels) == 1


def test_send_errors_are_logged_once_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    # A real failure: broadcasting without SO_BROADCAST is refused by the kernel (EACCES).
    s = StatsdSink(host="255.255.255.255", port=8125)
    assert s.enabled and s._client is not None
    with caplog.at_level(logging.ERROR, "windvane.metrics"):
        s.incr(m.SCHEDULER_HEARTBEAT)
        s.incr(m.SCHEDULER_HEARTBEAT)
    assert s.failures["send_failed"] == 2 and s._client.failures == 2 and len(caplog.records) == 1
    s.close()
    s.incr(m.SCHEDULER_HEARTBEAT)  # closed: dropped, never raised
    assert s.dropped == 1


def test_the_sender_never_raises_and_counts_what_it_could_not_send(statsd_listener: StatsdListener) -> None:
    sender = UdpSender("127.0.0.1", statsd_listener.port)
    assert sender.send("a:1|c") is None
    assert isinstance(sender.send("x" * 70_000), OSError)  # larger than any UDP datagram
    sender.close()
    assert isinstance(sender.send("a:1|c"), OSError)
    assert (sender.sent, sender.failures) == (1, 2)
    assert [line.name for line in statsd_listener.drain()] == ["a"]


def arrived(listener: StatsdListener) -> list[Line]:
    """The lines received since the last call."""
    seen = len(listener.lines)
    return listener.drain()[seen:]


def test_released_passes_close_together_go_out_as_one_batch_at_most_every_coalesce_seconds(
    statsd_listener: StatsdListener,
) -> None:
    now = [100.0]
    s = sink_to(statsd_listener, datadog_tags=True, coalesce_seconds=0.25, monotonic=lambda: now[0])

    def one_pass(dag_id: str) -> None:
        s.hold()
        s.incr(m.TI_START, dag_id=dag_id, task_id="t")
        s.release()

    one_pass("a")  # nothing sent for a while: out at once
    assert [line.tags["dag_id"] for line in arrived(statsd_listener)] == ["a"]
    now[0] += 0.1
    one_pass("b")
    now[0] += 0.1
    one_pass("c")
    assert arrived(statsd_listener) == []  # 0.2 s since the last send: they wait
    now[0] += 0.1
    one_pass("d")  # 0.3 s: b, c and d in one datagram
    assert [line.tags["dag_id"] for line in arrived(statsd_listener)] == ["b", "c", "d"]
    assert len(statsd_listener.packets) == 2  # a, then b + c + d


def test_waiting_lines_go_out_first_with_an_unheld_line_and_on_close(statsd_listener: StatsdListener) -> None:
    now = [0.0]
    s = sink_to(statsd_listener, monotonic=lambda: now[0])
    s.hold()
    s.incr(m.SCHEDULER_HEARTBEAT)
    s.release()
    s.hold()
    s.incr(m.TI_START, dag_id="waits", task_id="t")
    s.release()
    s.incr(m.RUNS_CREATED)  # not held: sent now, after what waited
    names = [line.name for line in arrived(statsd_listener)]
    assert names == [
        "windvane.scheduler_heartbeat",
        "windvane.ti.start.waits.t",
        "windvane.scheduler.dagruns.created",
    ]
    s.hold()
    s.incr(m.TI_START, dag_id="last", task_id="t")
    s.release()
    assert arrived(statsd_listener) == []
    s.close()  # flushed on stop
    assert [line.name for line in arrived(statsd_listener)] == ["windvane.ti.start.last.t"]


def test_a_full_released_batch_goes_out_without_waiting(statsd_listener: StatsdListener) -> None:
    now = [0.0]
    s = sink_to(statsd_listener, monotonic=lambda: now[0])
    s.hold()
    s.incr(m.SCHEDULER_HEARTBEAT)
    s.release()
    assert len(arrived(statsd_listener)) == 1
    for i in range(70):  # passes 0 s apart, but a full buffer (64 lines) is not kept waiting
        s.hold()
        s.incr(m.TI_START, dag_id=f"d{i}", task_id="t")
        s.release()
    assert len(arrived(statsd_listener)) == 64


def test_the_metrics_observer_sends_what_waits_when_the_scheduler_stops(
    statsd_listener: StatsdListener,
) -> None:
    from windvane.core.scheduler.observer import LoopStats
    from windvane.metrics.subscriber import MetricsObserver

    now = [0.0]
    observer = MetricsObserver(sink_to(statsd_listener, monotonic=lambda: now[0]), executor_name="local")
    observer.loop_finished(LoopStats(heartbeat_at=1.0))
    assert arrived(statsd_listener)  # the first pass goes out at once
    observer.loop_finished(LoopStats(heartbeat_at=2.0))  # the same instant: it waits
    assert arrived(statsd_listener) == []
    observer.scheduler_stopped()
    assert "windvane.scheduler_heartbeat" in [line.name for line in arrived(statsd_listener)]


@given(st.text())
@settings(max_examples=500)
def test_a_tag_value_is_what_the_unsafe_pattern_makes_of_it_with_or_without_the_fast_path(value: str) -> None:
    """tag_value skips the regular expression for values with nothing to replace: it must give
    exactly what the substitution gives, for any text (control characters, '#', ',', '|', unicode)."""
    assert tag_value(value) == (_TAG_UNSAFE.sub("_", value) or "_")


@pytest.mark.parametrize(
    "value", ["etl", "group.load", "é t", "#x", "a#b", "a,b", "a|b", "a\nb", "a\x7f", ""]
)
def test_tag_values_keep_what_travels_and_replace_what_ends_a_tag(value: str) -> None:
    assert tag_value(value) == (_TAG_UNSAFE.sub("_", value) or "_")


def _values(metric: Metric, task: str) -> dict[str, str]:
    """Label values for ``metric``: the first allowed value of an enumerated label, else text that
    differs per task (not per label: series of different labels share values) and needs its tag
    made safe ("#", ",")."""
    out = {}
    for key in metric.labels:
        allowed = metric.values_of(key)
        out[key] = allowed[0] if allowed else f"#,{task}"
    return out


@pytest.mark.parametrize("tags", [True, False])
@pytest.mark.parametrize("prefix", ["windvane", ""])
def test_a_bound_series_sends_exactly_the_lines_of_an_unbound_emission(
    statsd_listener: StatsdListener, tags: bool, prefix: str
) -> None:
    """A bound series formats its lines its own way (the fixed start and end kept from binding):
    every catalogue entry, for several tasks, gives the lines of the unbound path, byte for byte.
    A guard for any cheaper binding (a suffix shared between a task's series, say: values repeat
    across labels here, so a cache keyed on values alone fails)."""
    s = sink_to(statsd_listener, datadog_tags=tags, prefix=prefix)
    s.hold()
    emit = {Kind.COUNTER: "incr", Kind.GAUGE: "gauge", Kind.HISTOGRAM: "observe"}
    for task in ("a", "b", "a", "c"):
        for metric in m.CATALOGUE:
            labels = _values(metric, task)
            value = -2.5 if metric.kind is Kind.GAUGE else 0.1234567
            getattr(s.bind(metric, **labels), emit[metric.kind])(value)
            getattr(s, emit[metric.kind])(metric, value, **labels)
            bound, unbound = s._pending
            assert bound == unbound, metric.name
            s._pending.clear()
    s.close()


@given(
    st.one_of(
        st.integers(min_value=-(10**17), max_value=10**17),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**6), max_value=10**6).map(float),
        st.sampled_from([True, False, 1e15, -1e15, 10**15, -(10**15), 999_999_999_999_999, 0.0, -0.0]),
    )
)
@settings(max_examples=1000)
def test_a_number_takes_the_same_form_on_the_short_ways_as_on_the_general_one(value: float) -> None:
    """wire_number gives integers (below 1e15) without a fraction and anything else to the
    microsecond without trailing zeros; a guard for any faster form of it."""
    if float(value).is_integer() and abs(value) < 1e15:
        expected = str(int(value))
    else:
        expected = f"{value:.6f}".rstrip("0")
    assert wire_number(value) == expected
