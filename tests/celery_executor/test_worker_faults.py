"""A Celery worker killed mid-try (kill -9 of it, its pool and the try: a host lost).

The try's heartbeats stop; the scheduler's zombie sweep notices within the
heartbeat timeout and sets it up for retry; the retry runs on the other worker
and succeeds; no try runs twice (the broker delivers the killed worker's
message again, and the claim guard ignores it). Every callback runs once: the
killed try's ``on_retry_callback`` from the journal (its process is gone), the
retry's ``on_success_callback`` in its process, the DAG's ``on_success_callback``
from the journal — and a second pass of the callback runner calls nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.celery_executor.conftest import StartWorker
from tests.celery_executor.runs import HEARTBEAT_TIMEOUT, WORKER_ENV, drive, ti_states, trigger
from tests.celery_executor.workers import Broker, WorkerProcess, make_broker
from windvane.alerting.dag_callbacks import DagCallbackRunner
from windvane.core.store.engine import begin_read
from windvane.core.store.tables import task_instance

pytestmark = pytest.mark.slow

DAG = """
import os, pathlib, time
from datetime import timedelta
import pendulum
from windvane import DAG, PythonOperator

MARKS = pathlib.Path({marks!r})

def work(ti):
    with open(MARKS / "ledger", "a") as fh:
        fh.write(f"{{ti.try_number}}\\n")
    (MARKS / f"started.{{ti.try_number}}").write_text(str(os.getpid()))
    if ti.try_number == 1:
        time.sleep(600)  # the test kills this try's worker now
    return "done"

def mark(what):
    def callback(context):
        with open(MARKS / "callbacks", "a") as fh:
            ti = context.get("ti")
            fh.write(f"{{what}} {{context.get('try_number') or getattr(ti, 'try_number', None)}}\\n")
    return callback

with DAG("celery_kill", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None,
         on_success_callback=mark("dag-success")) as dag:
    PythonOperator(task_id="victim", python_callable=work, retries=1, retry_delay=timedelta(0),
                   on_success_callback=mark("success"), on_retry_callback=mark("retry"),
                   on_failure_callback=mark("failure"))
"""


@pytest.fixture(params=["redis", "rabbitmq"])
def own_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """A queue of this test's own: the killed worker's message must not reach another test."""
    made = make_broker(request.param)
    yield made
    made.cleanup()


@pytest.fixture
def broker(own_broker: Broker) -> Broker:
    return own_broker


def _worker_of(engine: Engine, workers: list[WorkerProcess]) -> WorkerProcess:
    """The worker whose pool process claimed the try (the row's pid; the try's own process has a
    session of its own)."""
    with begin_read(engine) as conn:
        pid = conn.execute(select(task_instance.c.pid)).scalar_one()
    session = os.getsid(pid)
    return next(w for w in workers if w.popen.pid == session)


def test_a_worker_killed_mid_try_is_detected_and_the_try_retried_once(
    engine: Engine, broker: Broker, start_worker: StartWorker, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    trigger(engine, tmp_path, DAG.format(marks=str(marks)), "celery_kill")
    callbacks = DagCallbackRunner(engine, timeout=60)
    callbacks.reader.register()  # as a scheduler's start() does, before the run
    workers = start_worker(2, concurrency=1, env=WORKER_ENV)
    killed: list[float] = []
    retried: list[float] = []

    def on_pass() -> None:
        started = marks / "started.1"
        if not killed and started.exists():
            _worker_of(engine, workers).kill_group()
            killed.append(time.monotonic())
        if (
            killed
            and not retried
            and ti_states(engine)["victim"][0] in ("up_for_retry", "scheduled", "queued")
        ):
            retried.append(time.monotonic())

    assert drive(engine, broker, on_pass=on_pass) == "success"
    assert killed and retried, "the worker was never killed or the try never retried"
    detected = retried[0] - killed[0]
    print(f"celery kill -9 ({broker.kind}): the lost try was failed over {detected:.1f} s after the kill")
    assert detected < HEARTBEAT_TIMEOUT + 5.0, f"the lost try was noticed after {detected:.1f} s"
    assert ti_states(engine)["victim"] == ("success", 2)
    assert (marks / "ledger").read_text().split() == ["1", "2"], "a try ran twice"
    assert callbacks.run_tick() == 2 and callbacks.failures == 0  # the killed try's retry, the DAG's success
    assert callbacks.run_tick() == 0, "a callback was left to run again"
    called = sorted((marks / "callbacks").read_text().splitlines())
    assert called == ["dag-success None", "retry 1", "success 2"]
    if broker.kind == "rabbitmq":  # it redelivers the dead worker's message at once: to the other one
        assert any("ignored a second delivery" in w.text() for w in workers)
