"""End to end: ``windvane standalone`` in its own process runs a scheduled DAG to success."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from windvane.core.store.engine import begin_read, create_db_engine
from windvane.core.store.tables import dag_run, task_instance

from .conftest import RunCli, write_dag

E2E_DAG = """\
import pendulum
from windvane import DAG, BashOperator

with DAG("e2e", schedule="@once", start_date=pendulum.datetime(2024, 1, 1)) as dag:
    first = BashOperator(task_id="first", bash_command="echo output-of-first")
    second = BashOperator(task_id="second", bash_command="echo output-of-second")
    third = BashOperator(task_id="third", bash_command="echo output-of-third")
    first >> second >> third
"""
RUN_ID = "scheduled__2024-01-01T00:00:00+00:00"
DEADLINE_SECONDS = 90.0


@pytest.fixture
def standalone(home: Path, dags_folder: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    for name in ("chain.py", "failing.py"):
        (dags_folder / name).unlink()
    write_dag(dags_folder, "e2e.py", E2E_DAG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDVANE")}
    env.update(
        WINDVANE__CORE__EXECUTOR="local",
        WINDVANE__CORE__PARALLELISM="2",
        WINDVANE__SCHEDULER__IDLE_SLEEP_SECONDS="0.1",
        WINDVANE__SCHEDULER__HEARTBEAT_SECONDS="1",
        WINDVANE__DAG_PROCESSOR__REFRESH_INTERVAL_SECONDS="0.2",
    )
    with (tmp_path / "standalone.out").open("wb") as out, (tmp_path / "standalone.err").open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "windvane.cli.main", "--home", str(home), "standalone"],
            env=env,
            stdout=out,
            stderr=err,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _output(tmp_path: Path) -> str:
    return "\n".join((tmp_path / f"standalone.{s}").read_text(errors="replace") for s in ("out", "err"))


def _run_state(home: Path) -> str | None:
    database = home / "windvane.db"
    if not database.exists():
        return None
    engine = create_db_engine(f"sqlite:///{database}")
    try:
        with begin_read(engine) as conn:
            return conn.execute(
                select(dag_run.c.state).where(dag_run.c.run_id == RUN_ID)
            ).scalar_one_or_none()
    except OperationalError:  # the schema is still being created
        return None
    finally:
        engine.dispose()


@pytest.mark.slow
def test_standalone_runs_a_dag_and_stops_on_sigterm(
    standalone: subprocess.Popen[bytes], home: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    state = None
    while state not in ("success", "failed"):
        assert time.monotonic() < deadline, (
            f"run still {state!r} after {DEADLINE_SECONDS} s\n{_output(tmp_path)}"
        )
        try:  # wait a little for the process: it must not exit while we poll the database
            code = standalone.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            state = _run_state(home)
        else:
            pytest.fail(f"standalone exited early with code {code}\n{_output(tmp_path)}")
    assert state == "success", _output(tmp_path)

    standalone.send_signal(signal.SIGTERM)
    assert standalone.wait(timeout=60) == 0, _output(tmp_path)
    out = (tmp_path / "standalone.out").read_text()
    for text in (
        f"home:        {home}",
        "DAGs folder:",
        "database:    sqlite:///",
        "logs:",
        "executor:    local",
    ):
        assert text in out

    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    with begin_read(engine) as conn:
        states = dict(conn.execute(select(task_instance.c.task_id, task_instance.c.state)).all())
    engine.dispose()
    assert states == {"first": "success", "second": "success", "third": "success"}
    for task_id in ("first", "second", "third"):
        logs = run_cli("tasks", "logs", "e2e", task_id, RUN_ID)
        assert logs.code == 0 and f"output-of-{task_id}" in logs.out
