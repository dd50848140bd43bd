"""200 DAGs x 10 tasks through a real scheduler: the scraped /metrics stays within the documented
series budget, and no label carries a run id."""

from __future__ import annotations

import urllib.request

import pendulum
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from tests.metrics.scenario import QUEUED_DELAY, Noop
from windvane.core.authoring.dag import DAG
from windvane.core.model.clock import FakeClock
from windvane.core.model.workload import Workload
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.metrics.budget import Fleet, series_budget
from windvane.metrics.metric import DURATION_BUCKETS
from windvane.metrics.wiring import build_metrics
from windvane.settings import MetricsSettings
from windvane.testing import ScriptedExecutor, Step, register_dag, run_states

DAGS, TASKS = 200, 10
NOW = pendulum.datetime(2024, 3, 10, 12, tz="UTC")


def script(w: Workload) -> Step:
    failing = w.task_id == "t9" and int(w.dag_id.rsplit("_", 1)[1]) % 4 == 0
    return Step("failed" if failing else "success", 0.5)


def test_200_dags_of_10_tasks_stay_within_the_series_budget(engine: Engine) -> None:
    clock = FakeClock(NOW)
    ids = [f"card_{i:03d}" for i in range(DAGS)]
    for dag_id in ids:
        with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
            for t in range(TASKS):
                Noop(task_id=f"t{t}")
        ser = register_dag(engine, dag, now=NOW)
        with begin_write(engine) as conn:
            trigger_dag(conn, ser, now=NOW)
    registry = CollectorRegistry()
    bundle = build_metrics(
        MetricsSettings(prometheus_on=True),
        executor_name="scripted",
        service="scheduler",
        engine=engine,
        clock=clock,
        registry=registry,
        strict=True,
    )
    assert bundle.prometheus is not None
    port = bundle.prometheus.serve("127.0.0.1", 0)
    s = Scheduler(
        engine=engine,
        executor=ScriptedExecutor(512, engine=engine, clock=clock, script=script, start_delay=QUEUED_DELAY),
        clock=clock,
        observer=bundle.observer,
        config=SchedulerConfig(parallelism=512, max_tis_per_query=512, poll_interval_seconds=0.0),
    )
    try:
        s.start()
        for _ in range(100):
            s.run_once()
            clock.advance(1)
            if not s.runs and s.job_id:
                break
        s.shutdown()
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    finally:
        bundle.close()
    assert {state for dag_id in ids for state in run_states(engine, dag_id).values()} == {"success", "failed"}

    series = [line for line in body.splitlines() if line and not line.startswith("#")]
    budget = series_budget(Fleet(dags=DAGS, tasks=DAGS * TASKS))
    assert len(series) <= budget, f"{len(series)} series > budget {budget}"
    per_task_floor = 3 + len(DURATION_BUCKETS) + 3  # ti.start, ti.finish, ti_successes, task duration
    assert len(series) >= DAGS * TASKS * per_task_floor
    assert "run_id" not in body and "manual__" not in body and "try_number" not in body
