"""run_workload against a real database (SQLite and PostgreSQL): claim, fork, log, finish."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.tables import task_instance
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.runner import log_path_for, run_workload
from windvane.testing import JOB_ID, queued_try, ti_row, ti_states_of_run, write_dag_file, xcom_text

DAG_SOURCE = """
import logging, os, signal, time
from datetime import datetime, timezone
from sqlalchemy import create_engine, text
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import BranchPythonOperator, PythonOperator

def hello():
    print("hello from stdout")
    logging.getLogger("user.code").info("hello from logging")
    return 42

def pull(ti):
    return ti.xcom_pull(task_ids="hello") + 1

def crash_exit():
    os._exit(3)

def crash_segv():
    os.kill(os.getpid(), signal.SIGSEGV)

def stubborn():
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)

def until_heartbeat(params, ti):
    # Runs until the worker has recorded a heartbeat for this try (bounded).
    engine = create_engine(params["db_url"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT start_date, last_heartbeat_at FROM task_instance "
                                    "WHERE task_id = 'heartbeat'")).one()
        if row[1] != row[0]:
            return "beaten"
        time.sleep(0.05)
    raise RuntimeError("no heartbeat")

def fail():
    raise ValueError("boom")

def taken_over(params, ti):
    # Another party (a zombie sweep, a clear) changes this try's row while it runs.
    engine = create_engine(params["db_url"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE task_instance SET state = 'failed' WHERE task_id = 'taken_over'"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(0.05)
    raise RuntimeError("was not terminated")

with DAG("rt", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    PythonOperator(task_id="hello", python_callable=hello)
    PythonOperator(task_id="pull", python_callable=pull)
    PythonOperator(task_id="crash_exit", python_callable=crash_exit)
    PythonOperator(task_id="crash_segv", python_callable=crash_segv)
    PythonOperator(task_id="stubborn", python_callable=stubborn, execution_timeout=0.2)
    PythonOperator(task_id="heartbeat", python_callable=until_heartbeat, params={"db_url": DB_URL})
    PythonOperator(task_id="fail", python_callable=fail, retries=2, retry_delay=60)
    PythonOperator(task_id="taken_over", python_callable=taken_over, params={"db_url": DB_URL})
    branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "left")
    branch >> [PythonOperator(task_id="left", python_callable=hello),
               PythonOperator(task_id="right", python_callable=hello)]
"""


@pytest.fixture
def dag_file(tmp_path: Path, engine: Engine) -> str:
    url = engine.url.render_as_string(hide_password=False)
    return write_dag_file(tmp_path, f"DB_URL = {url!r}\n" + DAG_SOURCE)


@pytest.fixture
def logs(tmp_path: Path) -> str:
    return str(tmp_path / "logs")


def _run(
    workload: Workload,
    engine: Engine,
    logs: str,
    *,
    heartbeat_seconds: float = 5.0,
    timeout_grace_seconds: float = 5.0,
    kill_grace_seconds: float = 5.0,
) -> TaskEvent:
    return run_workload(
        workload,
        engine=engine,
        loader=DagLoader(),
        log_folder=logs,
        hostname="host-1",
        heartbeat_seconds=heartbeat_seconds,
        timeout_grace_seconds=timeout_grace_seconds,
        kill_grace_seconds=kill_grace_seconds,
    )


def test_success_writes_state_log_and_xcom(engine: Engine, dag_file: str, logs: str) -> None:
    wl = queued_try(engine, dag_file, "rt", "hello")
    running: list[TaskEvent] = []
    event = run_workload(
        wl, engine=engine, loader=DagLoader(), log_folder=logs, hostname="host-1", on_running=running.append
    )
    assert [e.state for e in running] == ["running"]
    assert event.state == "success" and event.error is None and event.at > 0
    row = ti_row(engine, wl.ti_id)
    assert row["state"] == "success"
    assert row["hostname"] == "host-1" and row["pid"] == os.getpid()
    assert row["duration"] is not None and row["duration"] >= 0
    assert row["end_date"] is not None
    assert xcom_text(engine, wl.dag_run_id, "hello") == "42"
    log_file = Path(logs) / "dag_id=rt" / "run_id=manual__2024-01-01" / "task_id=hello" / "attempt=1.log"
    assert log_path_for(logs, wl) == str(log_file)
    text = log_file.read_text()
    assert text.splitlines()[0].startswith("*** rt.hello run manual__2024-01-01 try 1")
    assert "hello from stdout" in text
    assert "hello from logging" in text


def test_downstream_try_pulls_the_xcom(engine: Engine, dag_file: str, logs: str) -> None:
    first = queued_try(engine, dag_file, "rt", "hello", others=["pull"])
    assert _run(first, engine, logs).state == "success"
    with begin_write(engine) as conn:
        conn.execute(
            update(task_instance)
            .where(task_instance.c.dag_run_id == first.dag_run_id, task_instance.c.task_id == "pull")
            .values(state="queued", try_number=1, queued_by_job_id=JOB_ID)
        )
    ti_id = ti_row_id(engine, first.dag_run_id, "pull")
    second = dataclasses.replace(first, key=dataclasses.replace(first.key, ti_id=ti_id, task_id="pull"))
    assert _run(second, engine, logs).state == "success"
    assert xcom_text(engine, first.dag_run_id, "pull") == "43"


@pytest.mark.parametrize(
    ("change", "value"), [("queued_by_job_id", JOB_ID + 1), ("state", "scheduled"), ("try_number", 2)]
)
def test_claim_guard_does_not_run_someone_elses_try(
    engine: Engine, dag_file: str, logs: str, change: str, value: object
) -> None:
    wl = queued_try(engine, dag_file, "rt", "hello")
    with begin_write(engine) as conn:
        conn.execute(update(task_instance).where(task_instance.c.id == wl.ti_id).values({change: value}))
    event = _run(wl, engine, logs)
    assert event.state is None
    assert ti_row(engine, wl.ti_id)["start_date"] is None
    assert not Path(log_path_for(logs, wl)).exists()
    assert xcom_text(engine, wl.dag_run_id, "hello") is None


def test_branch_skips_the_other_downstream_rows(engine: Engine, dag_file: str, logs: str) -> None:
    wl = queued_try(engine, dag_file, "rt", "branch", others=["left", "right"])
    event = _run(wl, engine, logs)
    assert event.state == "success"
    assert event.skipped_task_ids == ("right",)
    assert ti_states_of_run(engine, wl.dag_run_id) == {
        "branch": "success",
        "left": "none",
        "right": "skipped",
    }


@pytest.mark.parametrize(
    ("task_id", "expected"),
    [("crash_exit", "exited with code 3"), ("crash_segv", "killed by signal SIGSEGV")],
)
def test_child_crash_fails_the_try_and_the_worker_lives_on(
    engine: Engine, dag_file: str, logs: str, task_id: str, expected: str
) -> None:
    wl = queued_try(engine, dag_file, "rt", task_id)
    event = _run(wl, engine, logs)
    assert event.state == "failed"
    row = ti_row(engine, wl.ti_id)
    assert row["state"] == "failed"
    assert expected in row["error"] and "before reporting an outcome" in row["error"]
    assert expected in Path(log_path_for(logs, wl)).read_text()


def test_try_ignoring_its_timeout_is_killed(engine: Engine, dag_file: str, logs: str) -> None:
    wl = queued_try(engine, dag_file, "rt", "stubborn")
    event = _run(wl, engine, logs, timeout_grace_seconds=0.2, kill_grace_seconds=0.2)
    assert event.state == "failed"
    assert "timed out after 0.2 s and was killed" in ti_row(engine, wl.ti_id)["error"]


def test_failure_with_retries_left_is_up_for_retry(engine: Engine, dag_file: str, logs: str) -> None:
    wl = queued_try(engine, dag_file, "rt", "fail", max_tries=2)
    event = _run(wl, engine, logs)
    assert event.state == "up_for_retry"
    assert event.next_retry_at is not None
    assert event.next_retry_at - event.at == pytest.approx(60, abs=1)
    row = ti_row(engine, wl.ti_id)
    assert row["state"] == "up_for_retry" and row["next_retry_at"] is not None
    assert "ValueError: boom" in row["error"]


def test_heartbeat_only_while_a_try_runs_longer_than_heartbeat_seconds(
    engine: Engine, dag_file: str, logs: str
) -> None:
    short = queued_try(engine, dag_file, "rt", "hello")
    assert _run(short, engine, logs, heartbeat_seconds=0.2).state == "success"
    row = ti_row(engine, short.ti_id)
    assert row["last_heartbeat_at"] == row["start_date"]  # only the claim wrote it

    long = queued_try(engine, dag_file, "rt", "heartbeat")
    event = _run(long, engine, logs, heartbeat_seconds=0.2)
    assert event.state == "success", ti_row(engine, long.ti_id)["error"]
    row = ti_row(engine, long.ti_id)
    assert row["last_heartbeat_at"] > row["start_date"]


def test_try_whose_row_was_taken_over_is_terminated_and_not_recorded(
    engine: Engine, dag_file: str, logs: str
) -> None:
    wl = queued_try(engine, dag_file, "rt", "taken_over")
    event = _run(wl, engine, logs, heartbeat_seconds=0.2, kill_grace_seconds=0.5)
    assert event.state is None
    assert "changed elsewhere" in (event.error or "")
    row = ti_row(engine, wl.ti_id)
    assert row["state"] == "failed" and row["error"] is None  # the other party's word stands
    assert "changed elsewhere" in Path(log_path_for(logs, wl)).read_text()


def test_unloadable_dag_file_fails_the_try_naming_the_file(engine: Engine, tmp_path: Path, logs: str) -> None:
    broken = write_dag_file(tmp_path, "import no_such_module_here\n", name="broken.py")
    wl = queued_try(engine, broken, "rt", "hello")
    assert _run(wl, engine, logs).state == "failed"
    error = ti_row(engine, wl.ti_id)["error"]
    assert broken in error and "no_such_module_here" in error


def ti_row_id(engine: Engine, dag_run_id: int, task_id: str) -> int:
    states = ti_states_of_run(engine, dag_run_id)
    assert task_id in states
    with begin_read(engine) as conn:
        return int(
            conn.execute(
                select(task_instance.c.id).where(
                    task_instance.c.dag_run_id == dag_run_id, task_instance.c.task_id == task_id
                )
            ).scalar_one()
        )
