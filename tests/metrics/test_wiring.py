"""build_metrics: off costs nothing; on serves /metrics; broken backends are logged and counted while
the scheduler keeps running; SQL statements are counted per pass."""

from __future__ import annotations

import logging
import socket
import urllib.request
from collections.abc import Iterator

import pendulum
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from tests.metrics.scenario import Noop
from windvane.core.authoring.dag import DAG
from windvane.core.model.clock import FakeClock
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import SafeObserver, SchedulerObserver
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.metrics import catalogue as m
from windvane.metrics.queries import QueryCounter
from windvane.metrics.sink import NullSink
from windvane.metrics.wiring import build_metrics
from windvane.settings import MetricsSettings
from windvane.testing import InstantExecutor, register_dag, run_states

NOW = pendulum.datetime(2024, 3, 10, 12, tz="UTC")


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def _run_small_dag(engine: Engine, observer: SchedulerObserver) -> None:
    with DAG("small", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
        Noop(task_id="a") >> Noop(task_id="b")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)
    s = Scheduler(
        engine=engine,
        executor=InstantExecutor(4, engine=engine),
        clock=FakeClock(NOW),
        config=SchedulerConfig(poll_interval_seconds=0.0),
        observer=observer,
    )
    s.start()
    for _ in range(20):
        s.run_once()
        if run_states(engine, "small")[run_id] == "success":
            break
    s.shutdown()
    assert run_states(engine, "small")[run_id] == "success"


def test_metrics_off_is_a_no_op_that_attaches_nothing(engine: Engine) -> None:
    bundle = build_metrics(MetricsSettings(), executor_name="local", service="scheduler", engine=engine)
    assert not bundle.enabled and isinstance(bundle.sink, NullSink)
    assert type(bundle.observer) is SchedulerObserver and not bundle.observer.wants_pool_usage
    assert bundle.start_http_server() is None and bundle.processor is None
    assert not list(engine.dialect.dispatch.do_execute), "metrics off attaches no statement counter"
    bundle.record_parse(None)  # type: ignore[arg-type]
    bundle.close()


def test_prometheus_endpoint_serves_the_scheduler_metrics(engine: Engine) -> None:
    settings = MetricsSettings(prometheus_on=True, prometheus_port=1)  # the port is replaced below
    bundle = build_metrics(
        settings,
        executor_name="instant",
        service="scheduler",
        engine=engine,
        clock=FakeClock(NOW),
        registry=CollectorRegistry(),
    )
    assert bundle.prometheus is not None
    port = bundle.prometheus.serve("127.0.0.1", 0)
    try:
        _run_small_dag(engine, bundle.observer)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        bundle.close()
    assert 'windvane_ti_finish_total{dag_id="small",state="success",task_id="a"} 1.0' in body
    assert 'windvane_executor_open_slots{executor="instant"} 4.0' in body
    assert 'windvane_build_info{service="scheduler",version="' in body


def test_broken_backends_are_logged_and_counted_and_the_scheduler_keeps_running(
    engine: Engine, busy_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    settings = MetricsSettings(
        statsd_on=True,
        statsd_host="statsd.invalid",
        prometheus_on=True,
        prometheus_host="127.0.0.1",
        prometheus_port=busy_port,
    )
    with caplog.at_level(logging.ERROR, "windvane.metrics"):
        bundle = build_metrics(
            settings,
            executor_name="instant",
            service="scheduler",
            engine=engine,
            clock=FakeClock(NOW),
            registry=registry,
        )
        assert bundle.start_http_server() is None
        assert bundle.start_http_server() is None
        _run_small_dag(engine, bundle.observer)
    bundle.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len([x for x in messages if "statsd.invalid" in x]) == 1
    assert len([x for x in messages if "cannot serve Prometheus" in x]) == 1
    errors = "windvane_metrics_errors_total"
    assert registry.get_sample_value(errors, {"backend": "statsd", "reason": "unresolvable_host"}) == 1
    assert registry.get_sample_value(errors, {"backend": "prometheus", "reason": "port_in_use"}) == 2
    assert bundle.statsd is not None and bundle.statsd.dropped > 0
    # Metrics still flow to the working registry.
    assert registry.get_sample_value(m.TI_START.name, {"dag_id": "small", "task_id": "b"}) == 1


def test_an_observer_bug_never_reaches_the_scheduler(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = build_metrics(
        MetricsSettings(prometheus_on=True),
        executor_name="instant",
        service="scheduler",
        engine=engine,
        registry=CollectorRegistry(),
        strict=True,
    )
    assert bundle.metrics_observer is not None
    bundle.metrics_observer.sink = None  # type: ignore[assignment]  # every hook now raises
    safe = bundle.observer
    assert isinstance(safe, SafeObserver)
    with caplog.at_level(logging.ERROR, "windvane.scheduler"):
        _run_small_dag(engine, safe)
    bundle.close()
    assert safe.failures > 0


def test_query_counter_counts_statements_and_time(engine: Engine) -> None:
    counter = QueryCounter(engine)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            counter.take()  # what beginning the transaction ran
            for _ in range(3):
                conn.execute(text("SELECT 1"))
            count, seconds = counter.take()
        assert count == 3 and seconds > 0
    finally:
        counter.detach()
        counter.detach()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert counter.take() == (0, 0.0)


def test_query_counter_counts_an_executemany_once_and_a_failed_statement_not(engine: Engine) -> None:
    counter = QueryCounter(engine)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TEMPORARY TABLE qc_probe (id INTEGER PRIMARY KEY)"))
            counter.take()
            conn.execute(text("INSERT INTO qc_probe (id) VALUES (:id)"), [{"id": 1}, {"id": 2}, {"id": 3}])
            inserted = counter.take()[0]
            assert conn.execute(text("SELECT count(*) FROM qc_probe")).scalar_one() == 3
            counter.take()
            with pytest.raises(DBAPIError):  # still SQLAlchemy's error, as without the counter
                conn.execute(text("INSERT INTO qc_probe (id) VALUES (:id)"), {"id": 1})
            assert counter.take() == (0, 0.0)
            conn.rollback()
        # one executemany, or one round trip per insertmanyvalues batch: never one per row
        assert inserted == 1
    finally:
        counter.detach()
    assert not list(engine.dialect.dispatch.do_execute) and not list(engine.dialect.dispatch.do_executemany)


def test_query_counter_runs_statements_through_the_dialects_own_methods(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counter executes the statement itself: a dialect's override (psycopg2's and mysqldb's
    ``do_executemany``) must still be what runs it."""
    dialect = engine.dialect
    seen: list[str] = []
    original = dialect.do_execute

    def do_execute(cursor: object, statement: str, parameters: object, context: object = None) -> None:
        seen.append(statement)
        original(cursor, statement, parameters, context)  # type: ignore[arg-type]

    monkeypatch.setattr(dialect, "do_execute", do_execute)
    counter = QueryCounter(engine)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # begins the transaction
            counter.take()
            seen.clear()
            assert conn.execute(text("SELECT :x"), {"x": 7}).scalar_one() == 7
        assert counter.take()[0] == 1 and len(seen) == 1 and seen[0].startswith("SELECT ")
    finally:
        counter.detach()
