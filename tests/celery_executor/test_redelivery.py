"""A message delivered again for a try that already ran is ignored: nothing runs, nothing is stored."""

from __future__ import annotations

from pathlib import Path

from celery.result import AsyncResult
from sqlalchemy import Engine

from tests.celery_executor.conftest import StartWorker
from tests.celery_executor.workers import Broker
from windvane.celery.app import TASK_NAME, make_app
from windvane.celery.executor import CeleryExecutor
from windvane.celery.messages import workload_to_dict
from windvane.testing.contract_dag import DAG_ID, write_contract_dag
from windvane.testing.rows import ti_row
from windvane.testing.waiting import collect_events, wait_for
from windvane.testing.workloads import queued_try


def test_a_second_delivery_of_a_finished_try_is_ignored(
    engine: Engine, broker: Broker, start_worker: StartWorker, tmp_path: Path
) -> None:
    (worker,) = start_worker(concurrency=1)
    markers = tmp_path / "markers"
    dag_file = write_contract_dag(tmp_path / "dags", markers)
    url = engine.url.render_as_string(hide_password=False)
    executor = CeleryExecutor(1, config=broker.config(), db_url=url)
    executor.start()
    try:
        workload = queued_try(engine, dag_file, DAG_ID, "ok0")
        executor.queue(workload)
        (event,), _ = collect_events(executor, 1)
        assert event.state == "success"
    finally:
        executor.end()
    before = ti_row(engine, workload.ti_id)
    app = make_app(broker.config())
    try:  # the same message again, as a broker redelivers it (a new id: its result is observable)
        app.send_task(TASK_NAME, args=(workload_to_dict(workload),), task_id="again", queue=broker.queue)
        wait_for(
            lambda: "ignored a second delivery" in worker.text(), what="the worker to ignore the message"
        )
        assert AsyncResult("again", app=app).state == "PENDING"  # no result stored
    finally:
        app.close()
    assert ti_row(engine, workload.ti_id) == before
    assert sorted(p.name for p in markers.iterdir()) == ["ok0.1"]
