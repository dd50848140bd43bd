"""DAG-level callbacks run once per finished run, from the journal, in a forked child."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine, update

from tests.runtime.test_scheduler import drive, make_scheduler
from windvane.alerting.dag_callbacks import DagCallbackRunner
from windvane.core.executors.sequential import SequentialExecutor
from windvane.core.model.clock import FakeClock
from windvane.core.model.workload import Workload
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.worker.dag_loader import DagLoader
from windvane.testing import InstantExecutor, register_dag, run_states, write_dag_file

NOW = pendulum.datetime(2024, 3, 1, tz="UTC")
DAG_SOURCE = """
import json, pendulum
from windvane import DAG, PythonOperator

MARKS = {marks!r}

def mark(context):
    with open(MARKS, "a") as out:
        failed = [t["task_id"] for t in context["failed_task_instances"]]
        out.write(json.dumps({{"run": context["run_id"], "reason": context["reason"], "failed": failed,
                              "dag": context["dag"].dag_id}}) + "\\n")

def boom(context):
    raise RuntimeError("the callback itself fails")

with DAG("cb", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
         on_failure_callback=[mark, boom], on_success_callback=mark):
    PythonOperator(task_id="load", python_callable=lambda: None)
"""


def finish_run(engine: Engine, tmp_path: Path, state: str, run_id: str) -> None:
    def outcome(w: Workload) -> str:
        return state

    path = write_dag_file(tmp_path, DAG_SOURCE.format(marks=str(tmp_path / "marks.jsonl")), "cb.py")
    ser = register_dag(engine, DagLoader().get_dag(path, "cb"), now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW, run_id=run_id)
    clock = FakeClock(NOW)
    scheduler = make_scheduler(engine, InstantExecutor(2, engine=engine, outcome=outcome, clock=clock), clock)
    drive(scheduler, lambda: run_states(engine, "cb").get(run_id) in ("success", "failed"))
    scheduler.shutdown()


def marks(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "marks.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_failed_run_calls_each_failure_callback_once_with_the_runs_context(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = DagCallbackRunner(engine, timeout=30)
    runner.reader.register()  # as start() does, before the scheduler loop
    finish_run(engine, tmp_path, "failed", "r1")
    assert runner.run_tick() == 1  # mark ran; boom raised
    assert marks(tmp_path) == [{"run": "r1", "reason": "task_failure", "failed": ["load"], "dag": "cb"}]
    assert runner.failures == 1 and "the callback itself fails" in caplog.text
    assert runner.run_tick() == 0 and len(marks(tmp_path)) == 1  # once per run, also after a restart
    assert DagCallbackRunner(engine).run_tick() == 0


def test_a_successful_run_calls_the_success_callback(engine: Engine, tmp_path: Path) -> None:
    runner = DagCallbackRunner(engine, timeout=30)
    runner.reader.register()
    finish_run(engine, tmp_path, "success", "r2")
    assert runner.run_tick() == 1
    assert marks(tmp_path) == [{"run": "r2", "reason": "success", "failed": [], "dag": "cb"}]
    assert runner.failures == 0


TASK_SOURCE = """
import json, pendulum
from windvane import DAG, PythonOperator

def mark(context):
    with open({marks!r}, "a") as out:
        out.write(json.dumps({{"task": context["task"].task_id, "reason": context["reason"],
                              "state": context["state"], "try": context["try_number"]}}) + "\\n")

with DAG("tcb", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    PythonOperator(task_id="lost", python_callable=lambda: None, on_failure_callback=mark)
"""


def test_a_try_failed_from_outside_gets_its_failure_callback_once(engine: Engine, tmp_path: Path) -> None:
    # The worker running it vanished (a zombie): its own process never ran the callback.
    path = write_dag_file(tmp_path, TASK_SOURCE.format(marks=str(tmp_path / "marks.jsonl")), "tcb.py")
    ser = register_dag(engine, DagLoader().get_dag(path, "tcb"), now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)
        conn.execute(update(dag_run).values(state="running", start_date=NOW))
        conn.execute(
            update(task_instance)
            .where(task_instance.c.task_id == "lost")
            .values(state="running", try_number=1, queued_by_job_id=999, last_heartbeat_at=NOW)
        )
    runner = DagCallbackRunner(engine, timeout=30)
    runner.reader.register()
    clock = FakeClock(NOW)
    s = make_scheduler(
        engine, InstantExecutor(2, engine=engine), clock,
        task_heartbeat_timeout_seconds=60.0, zombie_check_interval_seconds=0.0,
    )  # fmt: skip
    s.start()
    s.run_once()
    clock.advance(61)
    s.run_once()
    s.shutdown()
    assert runner.run_tick() == 1
    assert marks(tmp_path) == [{"task": "lost", "reason": "zombie", "state": "failed", "try": 1}]
    assert runner.run_tick() == 0 and len(marks(tmp_path)) == 1


KILLED_SOURCE = """
import json, os, signal, pendulum
from windvane import DAG, PythonOperator

def mark(context):
    with open({marks!r}, "a") as out:
        out.write(json.dumps({{"task": context["task"].task_id, "reason": context["reason"],
                              "state": context["state"], "try": context["try_number"]}}) + "\\n")

def die():
    os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would

with DAG("killed", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    PythonOperator(task_id="oom", python_callable=die, on_failure_callback=mark)
"""


def test_a_try_whose_process_was_killed_gets_its_failure_callback_once(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_dag_file(tmp_path, KILLED_SOURCE.format(marks=str(tmp_path / "marks.jsonl")), "killed.py")
    ser = register_dag(engine, DagLoader().get_dag(path, "killed"), now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)
    runner = DagCallbackRunner(engine, timeout=30)
    runner.reader.register()
    url = engine.url.render_as_string(hide_password=False)
    executor = SequentialExecutor(1, db_url=url, log_folder=str(tmp_path / "logs"))
    scheduler = Scheduler(engine=engine, executor=executor, config=SchedulerConfig(poll_interval_seconds=0.0))
    scheduler.run(until=lambda _s: set(run_states(engine, "killed").values()) == {"failed"}, timeout=60)
    assert runner.run_tick() == 1
    assert marks(tmp_path) == [{"task": "oom", "reason": "task_killed", "state": "failed", "try": 1}]
    assert runner.run_tick() == 0
