"""Logs of tries that ran on a Celery worker with a log folder of its own, read by ``windvane tasks
logs`` and the API's reader on a "scheduler host" with another log folder: fetched from the worker's
log server, signed with the shared secret, the earlier try's host from the journal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.celery_executor.conftest import StartWorker
from tests.celery_executor.own_redis import free_port
from tests.celery_executor.runs import drive, ti_states, trigger
from tests.celery_executor.workers import Broker, make_broker
from windvane.cli.main import main
from windvane.core.store.engine import begin_read
from windvane.core.store.tables import dag_run, task_instance
from windvane.errors import LogFetchError
from windvane.tasklogs.reader import read_try_log
from windvane.tasklogs.remote import RemoteLogs

pytestmark = pytest.mark.slow
SECRET = "a-secret-shared-by-workers-and-readers"

DAG = """
import pendulum
from datetime import timedelta
from windvane import DAG, PythonOperator

def work(ti):
    print(f"hello from try {ti.try_number} on the worker")
    if ti.try_number == 1:
        raise RuntimeError("first try fails on purpose")

with DAG("remote_logs", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
    PythonOperator(task_id="talk", python_callable=work, retries=1, retry_delay=timedelta(0))
"""


@pytest.fixture
def broker() -> Iterator[Broker]:
    made = make_broker("redis")
    yield made
    made.cleanup()


def test_tasks_logs_fetches_each_try_from_the_worker_that_ran_it(
    engine: Engine,
    broker: Broker,
    start_worker: StartWorker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    serving = {
        "WINDVANE__CELERY__WORKER_LOG_SERVER_PORT": str(port),
        "WINDVANE__CELERY__WORKER_LOG_SERVER_SECRET": SECRET,
    }
    (worker,) = start_worker(
        concurrency=1,
        env={**serving, "WINDVANE__CELERY__WORKER_LOG_SERVER_HOST": "127.0.0.1",
             "WINDVANE__CELERY__WORKER_HOSTNAME": "127.0.0.1"},
    )  # fmt: skip
    assert f"serves its logs on 127.0.0.1:{port}" in worker.text()
    trigger(engine, tmp_path, DAG, "remote_logs")
    assert drive(engine, broker) == "success"
    assert ti_states(engine)["talk"] == ("success", 2)
    with begin_read(engine) as conn:
        run_id = conn.execute(select(dag_run.c.run_id)).scalar_one()
        assert conn.execute(select(task_instance.c.hostname)).scalar_one() == "127.0.0.1"

    reader_home = tmp_path / "scheduler-host"  # its own, empty log folder
    monkeypatch.setenv(
        "WINDVANE__DATABASE__SQL_ALCHEMY_CONN", engine.url.render_as_string(hide_password=False)
    )
    for key, value in serving.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    assert main(["--home", str(reader_home), "tasks", "logs", "remote_logs", "talk", run_id]) == 0
    latest = capsys.readouterr()
    assert "hello from try 2 on the worker" in latest.out and "try 1" not in latest.out
    assert f"*** http://127.0.0.1:{port}/log?" in latest.err
    assert (
        main(["--home", str(reader_home), "tasks", "logs", "remote_logs", "talk", run_id, "--try", "1"]) == 0
    )
    first = capsys.readouterr().out
    assert "hello from try 1 on the worker" in first and "first try fails on purpose" in first
    assert not (reader_home / "logs" / "dag_id=remote_logs").exists()

    # The API's log endpoint makes the same call: byte offsets for tailing, a wrong secret refused.
    remote = RemoteLogs(port=port, secret=SECRET)
    with begin_read(engine) as conn:
        head = read_try_log(reader_home / "logs", "remote_logs", run_id, "talk", 2, limit=10, conn=conn,
                            remote=remote)  # fmt: skip
        tail = read_try_log(reader_home / "logs", "remote_logs", run_id, "talk", 2, offset=head.next_offset,
                            conn=conn, remote=remote)  # fmt: skip
        assert head.next_offset == 10 and tail.next_offset == tail.size == head.size
        assert "hello from try 2" in head.content + tail.content
        with pytest.raises(LogFetchError, match="HTTP 403"):
            read_try_log(reader_home / "logs", "remote_logs", run_id, "talk", 2, conn=conn,
                         remote=RemoteLogs(port=port, secret="wrong"))  # fmt: skip
