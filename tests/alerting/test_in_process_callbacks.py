"""Task callbacks run in the try's own process: counted in the callback metrics, and bounded by
``callback_timeout_seconds`` — through a real scheduler, LocalExecutor workers and SQLite.

The try's process has no metrics sink: it reports its callbacks with its outcome, and the
scheduler's metrics observer counts them (``windvane_callback_*{kind="task_..."}``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from sqlalchemy import Engine

from windvane.core.executors.local import LocalExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.worker.dag_loader import DagLoader
from windvane.metrics import RecordingSink
from windvane.metrics.catalogue_alerting import CALLBACK_DURATION, CALLBACK_FAILURES
from windvane.metrics.subscriber import MetricsObserver
from windvane.testing import register_dag, run_states, ti_states, wait_for, write_dag_file

NOW = pendulum.datetime(2024, 3, 1, tz="UTC")

COUNTED = """
import pendulum
from windvane import DAG, PythonOperator

def fine(context):
    pass

def boom(context):
    raise RuntimeError("callback bug")

def fail():
    raise ValueError("task bug")

with DAG("counted", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    PythonOperator(
        task_id="ok",
        python_callable=lambda: 1,
        on_execute_callback=fine,
        on_success_callback=[boom, fine],
    )
    PythonOperator(task_id="bad", python_callable=fail, on_failure_callback=boom)
"""

HANGING = """
import os, subprocess, sys, time
import pendulum
from windvane import DAG, PythonOperator

MARKS = {marks!r}

def hang(context):
    child = subprocess.Popen(["sleep", "600"])  # started by the callback, in the try's session
    with open(os.path.join(MARKS, "pids"), "w") as f:
        f.write(f"{{os.getpid()}} {{child.pid}}")
    time.sleep(600)

def after(context):
    open(os.path.join(MARKS, "after"), "w").close()

with DAG("hanging", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    PythonOperator(task_id="slow_cb", python_callable=lambda: 1, on_success_callback=[hang, after])
"""


def _run(engine: Engine, tmp_path: Path, source: str, dag_id: str, **executor: float) -> RecordingSink:
    path = write_dag_file(tmp_path, source, f"{dag_id}.py")
    ser = register_dag(engine, DagLoader().get_dag(path, dag_id), now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)
    sink = RecordingSink()
    url = engine.url.render_as_string(hide_password=False)
    scheduler = Scheduler(
        engine=engine,
        executor=LocalExecutor(2, db_url=url, log_folder=str(tmp_path / "logs"), **executor),  # type: ignore[arg-type]
        config=SchedulerConfig(poll_interval_seconds=0.0),
        observer=MetricsObserver(sink, executor_name="local"),
    )
    finished = {"success", "failed"}
    scheduler.run(until=lambda _s: set(run_states(engine, dag_id).values()) <= finished, timeout=60)
    assert set(run_states(engine, dag_id).values()) <= finished, "the run did not finish within 60 s"
    return sink


def test_callbacks_in_the_try_process_are_counted_by_kind(sqlite_engine: Engine, tmp_path: Path) -> None:
    engine = sqlite_engine
    sink = _run(engine, tmp_path, COUNTED, "counted")
    states = {task: state for (_run_id, task), state in ti_states(engine, "counted").items()}
    assert states == {"ok": "success", "bad": "failed"}  # callbacks changed nothing
    assert len(sink.values(CALLBACK_DURATION, kind="task_execute")) == 1
    assert len(sink.values(CALLBACK_DURATION, kind="task_success")) == 2  # one per callback of the list
    assert len(sink.values(CALLBACK_DURATION, kind="task_failure")) == 1
    assert sink.total(CALLBACK_FAILURES, kind="task_success") == 1  # boom; fine was fine
    assert sink.total(CALLBACK_FAILURES, kind="task_failure") == 1
    assert sink.total(CALLBACK_FAILURES, kind="task_execute") == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_hanging_callback_times_out_and_the_try_finishes(sqlite_engine: Engine, tmp_path: Path) -> None:
    engine = sqlite_engine
    marks = tmp_path / "marks"
    marks.mkdir()
    source = HANGING.format(marks=str(marks))
    sink = _run(engine, tmp_path, source, "hanging", callback_timeout_seconds=1.0)
    assert list(ti_states(engine, "hanging").values()) == ["success"]  # decided before the callbacks
    assert (marks / "after").exists()  # the next callback of the list still ran
    assert sink.total(CALLBACK_FAILURES, kind="task_success") == 1  # the timed-out one
    took = sorted(sink.values(CALLBACK_DURATION, kind="task_success"))
    assert len(took) == 2 and 1.0 <= took[1] < 30
    try_pid, sleeper_pid = (int(p) for p in (marks / "pids").read_text().split())
    # The try's process exits once its outcome is reported, and what the callback started is swept.
    wait_for(lambda: not _alive(try_pid) and not _alive(sleeper_pid), timeout=30, what="the try's processes")
    [log_file] = (tmp_path / "logs").rglob("attempt=1.log")
    text = log_file.read_text()
    assert "on_success_callback hang of task slow_cb did not finish within 1 s" in text
    assert "time.sleep(600)" in text  # where it hangs


SLOW_CALLBACK = """
import time
from datetime import timedelta
import pendulum
from windvane import DAG, PythonOperator

def slow(context):
    time.sleep(3)

with DAG("slowcb", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    PythonOperator(task_id="quick", python_callable=lambda: 1, execution_timeout=timedelta(seconds=1),
                   on_success_callback=slow)
"""


def test_a_slow_callback_does_not_turn_a_success_into_a_timeout(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """The worker's kill deadline (execution_timeout + grace) leaves room for the callbacks."""
    engine = sqlite_engine
    sink = _run(
        engine, tmp_path, SLOW_CALLBACK, "slowcb", callback_timeout_seconds=10.0, timeout_grace_seconds=0.5
    )
    assert list(ti_states(engine, "slowcb").values()) == ["success"]
    assert sink.total(CALLBACK_FAILURES, kind="task_success") == 0
    [took] = sink.values(CALLBACK_DURATION, kind="task_success")
    assert 3.0 <= took < 10
