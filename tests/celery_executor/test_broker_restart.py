"""The broker (a Redis, or a RabbitMQ node, of the test's own) restarts in the middle of a run: the
run completes, each task runs exactly once. The scheduler's sends and result reads and the workers'
consumers and result writes all ride out the outage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import Engine

from tests.celery_executor.conftest import StartWorker
from tests.celery_executor.own_rabbitmq import OwnRabbitMQ
from tests.celery_executor.own_redis import OwnRedis
from tests.celery_executor.runs import drive, ti_states, trigger
from tests.celery_executor.workers import REDIS_URL, RESULTS_DB, Broker, require
from windvane.celery.executor import CeleryExecutor
from windvane.testing.contract_dag import DAG_ID, write_contract_dag
from windvane.testing.rows import ti_row
from windvane.testing.waiting import collect_events, wait_for
from windvane.testing.workloads import queued_try

pytestmark = pytest.mark.slow
TASKS = 8
#: How long the broker stays down: the scheduler sends (and fails) meanwhile.
OUTAGE_SECONDS = 2.0

DAG = """
import pathlib
import pendulum
from windvane import DAG, PythonOperator

LEDGER = pathlib.Path({ledger!r})

def work(ti):
    with open(LEDGER, "a") as fh:
        fh.write(f"{{ti.task_id}}\\n")

with DAG("broker_restart", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
    previous = None
    for i in range({tasks}):
        task = PythonOperator(task_id=f"t{{i}}", python_callable=work)
        if previous is not None:
            previous >> task
        previous = task
"""


class Server(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["redis", "rabbitmq"])
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Broker, Server]]:
    """The broker to restart: a Redis (its own results too) or a RabbitMQ node (results in the
    machine's Redis, which stays up)."""
    if request.param == "redis":
        redis = request.getfixturevalue("own_redis")
        yield Broker("redis", f"{redis.url}/0", f"{redis.url}/1", "restart"), redis
        return
    require(REDIS_URL)
    rabbit = OwnRabbitMQ(tmp_path / "rabbitmq")
    rabbit.start()
    try:
        yield Broker("rabbitmq", rabbit.url, f"{REDIS_URL}/{RESULTS_DB}", "restart"), rabbit
    finally:
        rabbit.stop()


@pytest.fixture
def broker(own_server: tuple[Broker, Server]) -> Broker:
    return own_server[0]


def test_a_broker_restart_mid_run_loses_and_repeats_nothing(
    engine: Engine, own_server: tuple[Broker, Server], start_worker: StartWorker, tmp_path: Path
) -> None:
    broker, server = own_server
    ledger = tmp_path / "ledger"
    ledger.touch()
    trigger(engine, tmp_path, DAG.format(ledger=str(ledger), tasks=TASKS), "broker_restart")
    start_worker(concurrency=1)
    stopped: list[float] = []
    restarted: list[int] = []

    def on_pass() -> None:
        done = len(ledger.read_text().split())
        if not stopped and done >= 3:
            server.stop()
            stopped.append(time.monotonic())
        elif stopped and not restarted and time.monotonic() - stopped[0] >= OUTAGE_SECONDS:
            server.start()
            restarted.append(done)

    began = time.monotonic()
    assert drive(engine, broker, on_pass=on_pass, timeout=120) == "success"
    assert restarted and restarted[0] < TASKS, "the broker was not restarted during the run"
    took = time.monotonic() - began
    print(f"{broker.kind} restart: {restarted[0]} of {TASKS} done at the restart; the run took {took:.1f} s")
    assert sorted(ledger.read_text().split()) == sorted(f"t{i}" for i in range(TASKS))
    assert {state for state, _ in ti_states(engine).values()} == {"success"}


@pytest.mark.parametrize("own_server", ["redis"], indirect=True)
def test_tries_queued_while_the_broker_is_down_are_sent_when_it_is_back(
    engine: Engine, broker: Broker, own_redis: OwnRedis, start_worker: StartWorker, tmp_path: Path
) -> None:
    dag_file = write_contract_dag(tmp_path / "dags", tmp_path / "markers")
    url = engine.url.render_as_string(hide_password=False)
    own_redis.stop()
    executor = CeleryExecutor(2, config=broker.config(), db_url=url)
    executor.start()
    try:
        workload = queued_try(engine, dag_file, DAG_ID, "ok0")
        began = time.monotonic()
        executor.queue(workload)
        assert time.monotonic() - began < 0.5, "queue() blocked on a broker that is down"
        wait_for(lambda: sum(executor.publish_failures.values()) >= 2, what="failed sends to be counted")
        assert executor.queued_count == 1
        own_redis.start()
        start_worker()
        (event,), _ = collect_events(executor, 1, timeout=30)
        assert event.state == "success"
        assert ti_row(engine, workload.ti_id)["state"] == "success"
    finally:
        executor.end()
