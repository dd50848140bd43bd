"""A worker host cut off from the network for longer than the heartbeat timeout.

The worker runs in a network namespace of its own (a separate "host", see
netns.py) and reaches PostgreSQL and Redis only through proxies across a veth
link. Its try is running when the link goes down: its heartbeats stop, the
scheduler's zombie sweep fails it over within the heartbeat timeout, and the
retry runs on a worker on this host. Then the cut-off try finishes while still
cut off, and the link comes back: its late result is rejected (the finish is
guarded by ``state='running' AND try_number``), its success callback does not
run (the try no longer holds its task instance), and the task keeps the
retry's success. Its log is still read from its host's log server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, select

from tests.celery_executor.netns import NetnsHost, TcpProxy
from tests.celery_executor.own_redis import free_port
from tests.celery_executor.runs import HEARTBEAT_TIMEOUT, WORKER_ENV, drive, ti_states, trigger
from tests.celery_executor.workers import (
    BROKER_DB,
    REDIS_URL,
    RESULTS_DB,
    Broker,
    WorkerProcess,
    make_broker,
)
from windvane.core.store import listing
from windvane.core.store.engine import begin_read
from windvane.core.store.tables import dag_run, task_instance
from windvane.tasklogs.reader import read_try_log
from windvane.tasklogs.remote import RemoteLogs
from windvane.testing.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SECRET = "netns-log-secret"

DAG = """
import pathlib, time
from datetime import timedelta
import pendulum
from windvane import DAG, PythonOperator

MARKS = pathlib.Path({marks!r})

def work(ti):
    with open(MARKS / "ledger", "a") as fh:
        fh.write(f"{{ti.try_number}}\\n")
    (MARKS / f"started.{{ti.try_number}}").touch()
    print(f"try {{ti.try_number}} running")
    if ti.try_number == 1:  # on the host that is cut off: ends when the test says so
        deadline = time.monotonic() + 120
        while not (MARKS / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (MARKS / "returned.1").touch()
    return "done"

def on_success(context):
    with open(MARKS / "callbacks", "a") as fh:
        fh.write(f"success {{context['ti'].try_number}}\\n")

with DAG("net_cut", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
    PythonOperator(task_id="victim", python_callable=work, retries=1, retry_delay=timedelta(0),
                   on_success_callback=on_success)
"""


@pytest.fixture
def db_backend() -> str:
    """PostgreSQL: the cut-off host reaches the database over the network (SQLite would be a file)."""
    return "postgres"


@pytest.fixture
def broker() -> Iterator[Broker]:
    made = make_broker("redis")
    yield made
    made.cleanup()


@pytest.fixture
def far_host() -> Iterator[NetnsHost]:
    host = NetnsHost()
    yield host
    host.delete()


def test_a_worker_cut_off_fails_over_and_its_late_result_is_rejected(
    engine: Engine, broker: Broker, far_host: NetnsHost, tmp_path: Path
) -> None:
    db_url = make_url(engine.url.render_as_string(hide_password=False))
    pg_proxy = TcpProxy(far_host.host_ip, db_url.port or 5432)
    redis_proxy = TcpProxy(far_host.host_ip, make_url(REDIS_URL).port or 6379)
    far_redis = f"redis://{far_host.host_ip}:{redis_proxy.port}"
    far_broker = Broker("redis", f"{far_redis}/{BROKER_DB}", f"{far_redis}/{RESULTS_DB}", broker.queue)
    log_port = free_port()
    far_env = {
        **WORKER_ENV,
        "WINDVANE__CELERY__WORKER_HOSTNAME": far_host.ns_ip,
        "WINDVANE__CELERY__WORKER_LOG_SERVER_PORT": str(log_port),
        "WINDVANE__CELERY__WORKER_LOG_SERVER_SECRET": SECRET,
    }
    far_db = db_url.set(host=far_host.host_ip, port=pg_proxy.port).render_as_string(hide_password=False)
    far = WorkerProcess(far_broker, db_url=far_db, home=tmp_path / "far-host", concurrency=1, env=far_env,
                        wrapper=far_host.wrapper)  # fmt: skip
    workers = [far]
    marks = tmp_path / "marks"
    marks.mkdir()
    try:
        far.wait_ready()
        trigger(engine, tmp_path, DAG.format(marks=str(marks)), "net_cut")
        cut: list[float] = []
        failed_over: list[float] = []

        def on_pass() -> None:
            if not cut and (marks / "started.1").exists():
                far_host.cut()
                cut.append(time.monotonic())
                near = WorkerProcess(broker, db_url=db_url.render_as_string(hide_password=False),
                                     home=tmp_path / "near-host", concurrency=1, env=WORKER_ENV)  # fmt: skip
                workers.append(near)
            if (
                cut
                and not failed_over
                and ti_states(engine)["victim"][0] in ("up_for_retry", "scheduled", "queued")
            ):
                failed_over.append(time.monotonic())

        assert drive(engine, broker, on_pass=on_pass, timeout=90) == "success"
        assert cut and failed_over, "the link was never cut or the try never failed over"
        detected = failed_over[0] - cut[0]
        print(f"network cut: the cut-off try was failed over {detected:.1f} s after the cut")
        assert detected < HEARTBEAT_TIMEOUT + 5.0, f"the cut-off try was failed over after {detected:.1f} s"
        assert ti_states(engine)["victim"] == ("success", 2)

        # The cut-off try ends while still cut off, then its host comes back.
        (marks / "release").touch()
        wait_for(lambda: (marks / "returned.1").exists(), what="the cut-off try's body to return")
        far_host.restore()
        wait_for(lambda: "changed elsewhere" in far.text(), timeout=30, what="the cut-off try's late finish")
        # The far host serves the cut-off try's log: read across the link from this host.
        with begin_read(engine) as conn:
            run_id = conn.execute(select(dag_run.c.run_id)).scalar_one()
            chunk = read_try_log(tmp_path / "reader-logs", "net_cut", run_id, "victim", 1, conn=conn,
                                 remote=RemoteLogs(port=log_port, secret=SECRET))  # fmt: skip
    finally:
        for worker in workers:
            worker.stop()
        pg_proxy.stop()
        redis_proxy.stop()

    assert ti_states(engine)["victim"] == ("success", 2), "the late result overwrote the retry's"
    assert (marks / "ledger").read_text().split() == ["1", "2"]
    assert (marks / "callbacks").read_text() == "success 2\n", (
        "a try that lost its task instance ran callbacks"
    )
    with begin_read(engine) as conn:
        ti_id = conn.execute(select(task_instance.c.id)).scalar_one()
        ends = [(t.try_number, t.state, t.reason, t.hostname) for t in listing.finished_tries(conn, ti_id)]
        assert ends == [(1, "up_for_retry", "zombie", far_host.ns_ip), (2, "success", None, ends[1][3])]
        assert conn.execute(select(dag_run.c.state)).scalar_one() == "success"
    assert "try 1 running" in chunk.content and chunk.source.startswith(
        f"http://{far_host.ns_ip}:{log_port}/"
    )
