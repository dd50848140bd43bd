"""The Celery fast path: reports pushed to the executor's list, tries in a pool process's try host,
tries sent ahead.

The report list (Redis result backend): a worker's two reports of a try arrive in order and wake
the executor; junk on the list is skipped; stopping ends the thread at once and drops the list.
Try hosts: a pool process runs consecutive tries of one DAG file in one forked process (with
``[celery] tries_per_process`` 1, a process per try, as before).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.celery_executor.conftest import StartWorker
from tests.celery_executor.runs import drive, trigger
from tests.celery_executor.workers import RESULTS_DB, Broker, make_broker
from windvane.celery.app import make_app
from windvane.celery.config import CeleryConfig
from windvane.celery.executor import CeleryExecutor
from windvane.celery.report_list import ReportList
from windvane.celery.reporting import ResultWriter
from windvane.celery.results import Report
from windvane.core.model.workload import TaskEvent, TaskInstanceKey
from windvane.testing.waiting import wait_for


def _event(state: str) -> TaskEvent:
    key = TaskInstanceKey(ti_id=7, dag_run_id=1, dag_id="d", run_id="r", task_id="t")
    return TaskEvent(key=key, try_number=1, state=state, at=1.5)


def test_reports_pushed_to_the_list_arrive_in_order_and_wake_the_executor() -> None:
    broker = make_broker("redis")
    app = make_app(CeleryConfig(broker_url=broker.broker_url, result_backend=broker.result_backend))
    woken = threading.Event()
    reports = ReportList(app, woken.set)
    assert reports.key.startswith("windvane-reports-")
    reports.start()
    try:
        writer = ResultWriter(app)
        writer.started("wv-7-1-a", _event("running"), reports.key)
        app.backend.client.rpush(reports.key, b"not json")  # skipped, logged
        writer.finished("wv-7-1-a", _event("success"), reports.key)
        taken: list[Report] = []

        def two_taken() -> bool:
            taken.extend(reports.take())
            return len(taken) >= 2

        wait_for(two_taken, timeout=10, what="two reports")
        assert woken.is_set()
        assert [(r.task_id, r.final, r.event and r.event.state) for r in taken] == [
            ("wv-7-1-a", False, "running"),
            ("wv-7-1-a", True, "success"),
        ]
        assert not app.backend.client.exists(app.backend.get_key_for_task("wv-7-1-a")), (
            "a key was written too"
        )
    finally:
        started = time.monotonic()
        reports.stop()
        assert time.monotonic() - started < 1.0, "the thread did not end at the stop marker"
    assert not app.backend.client.exists(reports.key)
    app.close()


def test_only_a_redis_result_backend_gets_a_report_list() -> None:
    redis = CeleryConfig(
        broker_url="amqp://guest:guest@127.0.0.1:5672//", result_backend=f"redis://x/{RESULTS_DB}"
    )
    other = CeleryConfig(result_backend="db+sqlite:///unused.db")
    assert CeleryExecutor(1, config=redis, db_url="sqlite://")._list is not None
    assert CeleryExecutor(1, config=other, db_url="sqlite://")._list is None


def test_sending_ahead_doubles_the_tries_the_scheduler_may_hand_over() -> None:
    config = CeleryConfig(result_backend="db+sqlite:///unused.db")
    assert CeleryExecutor(3, config=config, db_url="sqlite://").open_slots == 3
    assert CeleryExecutor(3, config=config, db_url="sqlite://", send_ahead=True).open_slots == 6


CHAIN = """
import os, pathlib
import pendulum
from windvane import DAG, PythonOperator

def record():
    with open({marks!r}, "a") as fh:
        fh.write(f"{{os.getpid()}}\\n")

with DAG("celery_hosts", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
    a, b, c = (PythonOperator(task_id=t, python_callable=record) for t in "abc")
    a >> b >> c
"""


@pytest.mark.parametrize(("tries_per_process", "processes"), [("100", 1), ("1", 3)])
def test_a_pool_process_runs_tries_of_one_dag_file_in_its_try_host(
    engine: Engine,
    broker: Broker,
    start_worker: StartWorker,
    tmp_path: Path,
    tries_per_process: str,
    processes: int,
) -> None:
    marks = tmp_path / "pids"
    trigger(engine, tmp_path, CHAIN.format(marks=str(marks)), "celery_hosts")
    start_worker(concurrency=1, env={"WINDVANE__CELERY__TRIES_PER_PROCESS": tries_per_process})
    assert drive(engine, broker, parallelism=1) == "success"
    pids = marks.read_text().split()
    assert len(pids) == 3 and len(set(pids)) == processes
