"""ExternalTaskSensor and TriggerDagRunOperator end to end: a scheduler with a LocalExecutor, DAG
files registered as the processor would, the metadata port the worker installs (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum

from tests.sensors.harness import Runtime
from windvane.core.store.engine import begin_read
from windvane.testing import wait_for

LOGICAL = pendulum.datetime(2024, 6, 1, tz="UTC")

EXTERNAL_DAGS = """
from datetime import datetime, timedelta, timezone
from windvane import DAG, ExternalTaskSensor, PythonOperator, TaskGroup

START = datetime(2024, 1, 1, tzinfo=timezone.utc)

def ok():
    return "ok"

def explode():
    raise RuntimeError("boom")

with DAG("up", schedule=None, start_date=START) as up:
    a = PythonOperator(task_id="a", python_callable=ok)
    with TaskGroup("grp") as grp:
        PythonOperator(task_id="g1", python_callable=ok) >> PythonOperator(task_id="g2", python_callable=ok)
    a >> grp

with DAG("boom", schedule=None, start_date=START) as boom:
    PythonOperator(task_id="explode", python_callable=explode)

common = dict(mode="reschedule", poke_interval=0.2, timeout=60)
with DAG("down", schedule=None, start_date=START) as down:
    ExternalTaskSensor(task_id="on_task", external_dag_id="up", external_task_id="a", **common)
    ExternalTaskSensor(task_id="on_group", external_dag_id="up", external_task_group_id="grp",
                       check_existence=True, **common)
    ExternalTaskSensor(task_id="on_run", external_dag_id="up", **common)
    ExternalTaskSensor(task_id="on_failure", external_dag_id="boom", external_task_ids=["explode"],
                       failed_states=["failed"], **common)
    ExternalTaskSensor(task_id="missing", external_dag_id="up", external_task_id="nope",
                       check_existence=True, **common)
    ExternalTaskSensor(task_id="yesterday", external_dag_id="up", external_task_id="a",
                       execution_delta=timedelta(days=1), mode="reschedule", poke_interval=0.2, timeout=1,
                       soft_fail=True)
    ExternalTaskSensor(task_id="by_fn", external_dag_id="up", external_task_id="a",
                       execution_date_fn=lambda dt: [dt], **common)
"""


def test_external_task_sensor_waits_for_tasks_groups_runs_and_fails_or_skips(runtime: Runtime) -> None:
    runtime.add_file(EXTERNAL_DAGS)
    down = runtime.trigger("down", logical_date=LOGICAL)
    runtime.start()
    # Nothing to wait for yet: the sensors reschedule, holding no slot.
    wait_for(
        lambda: runtime.ti("down", down, "on_run")["state"] == "up_for_reschedule",
        timeout=60,
        what="a reschedule",
    )
    up = runtime.trigger("up", logical_date=LOGICAL)
    boom = runtime.trigger("boom", logical_date=LOGICAL)
    assert runtime.wait_run("up", up) == "success" and runtime.wait_run("boom", boom) == "failed"
    assert runtime.wait_run("down", down) == "failed"
    states = {t: runtime.ti("down", down, t)["state"] for t in runtime.dags["down"].tasks}
    assert states == {
        "on_task": "success",
        "on_group": "success",
        "on_run": "success",
        "on_failure": "failed",
        "missing": "failed",
        "yesterday": "skipped",
        "by_fn": "success",
    }
    assert "in DAG 'boom' failed" in runtime.ti("down", down, "on_failure")["error"]
    assert (
        "The external task 'nope' in DAG 'up' does not exist" in runtime.ti("down", down, "missing")["error"]
    )


TRIGGER_DAGS = """
import os
from datetime import datetime, timezone
from windvane import DAG, PythonOperator, TriggerDagRunOperator

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
OUT = {out!r}

def record(params, run_id):
    with open(os.path.join(OUT, run_id.replace(":", "_")), "a") as handle:
        handle.write(str(params.get("x")))

def check(ti):
    return ti.xcom_pull(task_ids="go", key="trigger_run_id")

with DAG("target", schedule=None, start_date=START, params={{"x": 0}}) as target:
    PythonOperator(task_id="record", python_callable=record)

with DAG("controller", schedule=None, start_date=START) as controller:
    go = TriggerDagRunOperator(task_id="go", trigger_dag_id="target", conf={{"x": "{{{{ ds }}}}"}},
                               wait_for_completion=True, poke_interval=0.2)
    go >> PythonOperator(task_id="check", python_callable=check)

with DAG("resetter", schedule=None, start_date=START) as resetter:
    TriggerDagRunOperator(task_id="again", trigger_dag_id="target", trigger_run_id="fixed",
                          reset_dag_run=True, wait_for_completion=True, poke_interval=0.2)

with DAG("duplicate", schedule=None, start_date=START) as duplicate:
    TriggerDagRunOperator(task_id="again", trigger_dag_id="target", trigger_run_id="fixed")

with DAG("nowhere", schedule=None, start_date=START) as nowhere:
    TriggerDagRunOperator(task_id="go", trigger_dag_id="no_such_dag")
"""


def test_trigger_dag_run_waits_pushes_the_run_id_and_resets(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    runtime.add_file(TRIGGER_DAGS.format(out=str(out)))
    controller = runtime.trigger("controller", logical_date=LOGICAL)
    runtime.start()
    assert runtime.wait_run("controller", controller) == "success"
    with begin_read(runtime.engine) as conn:
        rows = conn.exec_driver_sql(
            "SELECT run_id, run_type, state, conf FROM dag_run WHERE dag_id = 'target'"
        ).all()
    assert len(rows) == 1
    run_id, run_type, state, conf = rows[0]
    assert run_id.startswith("manual__") and run_type == "manual" and state == "success"
    assert (json.loads(conf) if isinstance(conf, str) else conf) == {"x": "2024-06-01"}
    with begin_read(runtime.engine) as conn:
        pulled = conn.exec_driver_sql(
            "SELECT value FROM xcom WHERE dag_id = 'controller' AND task_id = 'check' "
            "AND key = 'return_value'"
        ).scalar_one()
    assert json.loads(pulled) == run_id
    log = next((tmp_path / "logs" / "dag_id=controller").rglob("task_id=go/attempt=1.log")).read_text()
    assert f"Triggered run {run_id} of DAG target" in log
    assert f"windvane tasks states-for-dag-run target {run_id}" in log

    # reset_dag_run: the second trigger of run "fixed" clears it and it runs again.
    first = runtime.trigger("resetter", run_id="r1")
    assert runtime.wait_run("resetter", first) == "success"
    second = runtime.trigger("resetter", run_id="r2")
    assert runtime.wait_run("resetter", second) == "success"
    assert (out / "fixed").read_text() == "00"
    # Without it, an existing run id fails the task; an unknown DAG too.
    dup = runtime.trigger("duplicate")
    nowhere = runtime.trigger("nowhere")
    assert runtime.wait_run("duplicate", dup) == "failed" and runtime.wait_run("nowhere", nowhere) == "failed"
    assert "already has a run with run_id 'fixed'" in runtime.ti("duplicate", dup, "again")["error"]
    assert "no such DAG" in runtime.ti("nowhere", nowhere, "go")["error"]
