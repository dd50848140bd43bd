"""DAG processing metrics from a real DagProcessor over DAG files in a temporary folder:
two good files, a broken one and one that never finishes parsing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from tests.metrics.helpers import Backends, StatsdListener
from windvane.core.model.clock import FakeClock
from windvane.core.processor import DagProcessor
from windvane.core.processor.report import ParseReport
from windvane.metrics import catalogue as m
from windvane.metrics.wiring import build_metrics
from windvane.settings import MetricsSettings

GOOD = """
import pendulum
from windvane import DAG
from windvane.core.authoring.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None):
    EmptyOperator(task_id="t")
"""
BROKEN = "from windvane import DAG\nthis is not python  # dag\n"
SLOW = "# a windvane DAG file that never finishes importing\nimport time\ntime.sleep(60)\n"
NOW = FakeClock().now()


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    (folder / "team").mkdir(parents=True)
    (folder / "one.py").write_text(textwrap.dedent(GOOD.format(dag_id="one")))
    (folder / "team" / "two.py").write_text(textwrap.dedent(GOOD.format(dag_id="two")))
    (folder / "broken.py").write_text(BROKEN)
    (folder / "slow.py").write_text(SLOW)
    return folder


def test_a_processor_pass_moves_every_dag_processing_metric(
    engine: Engine, dags_folder: Path, statsd_listener: StatsdListener
) -> None:
    registry = CollectorRegistry()
    settings = MetricsSettings(
        statsd_on=True,
        statsd_host="127.0.0.1",
        statsd_port=statsd_listener.port,
        statsd_datadog_tags=True,
        prometheus_on=True,
    )
    clock = FakeClock(NOW)
    bundle = build_metrics(
        settings,
        executor_name="local",
        service="dag-processor",
        engine=engine,
        clock=clock,
        dags_folder=str(dags_folder),
        registry=registry,
        strict=True,
    )
    both = Backends.of(statsd_listener, registry, bundle.sink)
    try:
        processor = DagProcessor(dags_folder, engine, parse_timeout=0.5, parsing_processes=2)
        report = processor.run_once()
        bundle.record_parse(report)
        assert report.parsed == 4 and report.timed_out == 1 and report.failed == 2
        both.gauge(m.PARSE_TOTAL_TIME, report.total_parse_time)
        assert 0.5 <= report.total_parse_time < 30
        durations = {
            p.relative_to(dags_folder).as_posix(): s
            for p, s in ((Path(path), seconds) for path, seconds in report.durations.items())
        }
        assert set(durations) == {"one.py", "team/two.py", "broken.py", "slow.py"}
        for file, seconds in durations.items():
            both.gauge(m.PARSE_LAST_DURATION, seconds, file=file)
        assert durations["slow.py"] >= 0.5
        both.gauge(m.IMPORT_ERRORS, 2)
        both.gauge(m.DAGBAG_SIZE, 2)
        both.counter(m.PROCESSOR_TIMEOUTS, 1)
        both.gauge(m.FILE_QUEUE_SIZE, 4)
        both.counter(m.PROCESSOR_HEARTBEAT, 1)
        both.gauge(m.PROCESSOR_LAST_RUN, NOW.timestamp())

        # Nothing changed: the next pass parses nothing and the totals stay.
        (dags_folder / "broken.py").write_text(textwrap.dedent(GOOD.format(dag_id="fixed")))
        (dags_folder / "slow.py").unlink()
        clock.advance(30)
        bundle.record_parse(processor.run_once())
        both.gauge(m.IMPORT_ERRORS, 0)
        both.gauge(m.DAGBAG_SIZE, 3)
        both.gauge(m.FILE_QUEUE_SIZE, 1)
        both.counter(m.PROCESSOR_TIMEOUTS, 1)
        both.counter(m.PROCESSOR_HEARTBEAT, 2)
        both.gauge(m.PROCESSOR_LAST_RUN, NOW.timestamp() + 30)

        # A transient database error of the loop (its hook; the loop itself: test_outage_elsewhere.py).
        bundle.record_processor_db_error()
        bundle.record_processor_db_error()
        both.counter(m.PROCESSOR_DB_TRANSIENT_ERRORS, 2)

        # Parse templates found dead and replaced (the pass's count: tests/processor/test_template.py).
        bundle.record_parse(ParseReport(template_restarts=2))
        both.counter(m.PROCESSOR_TEMPLATE_RESTARTS, 2)
    finally:
        bundle.close()
