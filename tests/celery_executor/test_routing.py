"""The task's ``queue`` picks the Celery queue: a worker consuming only that queue runs it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.celery_executor.conftest import StartWorker
from tests.celery_executor.workers import Broker
from windvane.celery.config import CeleryConfig
from windvane.celery.executor import CeleryExecutor
from windvane.celery.factory import create
from windvane.core.executors import ExecutorOptions
from windvane.errors import ConfigError
from windvane.testing.contract_dag import DAG_ID, write_contract_dag
from windvane.testing.rows import ti_row
from windvane.testing.waiting import collect_events
from windvane.testing.workloads import queued_try


def test_a_task_queue_routes_to_the_worker_consuming_it(
    engine: Engine, broker: Broker, start_worker: StartWorker, tmp_path: Path
) -> None:
    special = f"{broker.queue}-gpu"
    start_worker(queues=(special,), concurrency=1)
    dag_file = write_contract_dag(tmp_path / "dags", tmp_path / "markers")
    url = engine.url.render_as_string(hide_password=False)
    executor = CeleryExecutor(2, config=broker.config(), db_url=url)
    executor.start()
    try:
        workload = dataclasses.replace(queued_try(engine, dag_file, DAG_ID, "ok0"), queue=special)
        executor.queue(workload)
        assert executor.queue_counts() == {special: (1, 0)}
        (event,), running = collect_events(executor, 1)
        assert event.state == "success" and len(running) == 1
        assert ti_row(engine, workload.ti_id)["state"] == "success"
        assert executor.queue_counts() == {}
    finally:
        executor.end()
        broker.cleanup(special)


def test_the_operator_default_queue_is_the_configured_default_queue() -> None:
    config = CeleryConfig(default_queue="windvane")
    assert config.queue_for("default") == "windvane"
    assert config.queue_for("") == "windvane"
    assert config.queue_for("gpu") == "gpu"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"broker_url": "kafka://x"}, "broker_url 'kafka://x': expected a redis:// or amqp:// URL"),
        ({"result_backend": "rpc://"}, "the rpc:// backend"),
        ({"default_queue": " "}, "default_queue must not be empty"),
    ],
)
def test_settings_celery_cannot_use_are_refused_naming_the_key(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CeleryConfig.from_section(changes)
    assert str(info.value).startswith("[celery] ") and message in str(info.value)


def test_the_registry_builds_the_celery_executor_from_its_section(tmp_path: Path) -> None:
    options = ExecutorOptions(
        parallelism=3, db_url="sqlite:///x.db", log_folder=str(tmp_path), heartbeat_seconds=1.0,
        section={"default_queue": "wv", "worker_concurrency": 2},
    )  # fmt: skip
    executor = create(options)
    assert isinstance(executor, CeleryExecutor)
    assert (executor.parallelism, executor.config.default_queue, executor.config.worker_concurrency) == (
        3,
        "wv",
        2,
    )
