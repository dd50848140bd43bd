"""The CLI shows a reschedule-mode sensor waiting: ``tasks run`` ends its try ``up_for_reschedule``
(try number kept), and ``tasks state``, ``tasks states-for-dag-run`` and ``dags list-runs`` say so."""

from __future__ import annotations

from pathlib import Path

from .conftest import RunCli, table_rows, write_dag

SENSOR_DAG = """\
import pendulum
from windvane import DAG
from windvane.sensors import FileSensor

with DAG("waiting", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
    FileSensor(task_id="wait", filepath="/nonexistent/windvane/flag", mode="reschedule", poke_interval=300)
"""
RUN_ID = "manual__2024-02-01T00:00:00+00:00"


def test_up_for_reschedule_in_the_cli(run_cli: RunCli, dags_folder: Path) -> None:
    write_dag(dags_folder, "waiting.py", SENSOR_DAG)
    assert run_cli("db", "migrate").code == 0
    assert run_cli("dag-processor", "--num-runs", "1").code == 0
    assert run_cli("dags", "trigger", "waiting", "--logical-date", "2024-02-01").code == 0
    ran = run_cli("tasks", "run", "waiting", "wait", RUN_ID)
    assert ran.code == 0, ran.err
    assert "up_for_reschedule" in ran.out + ran.err
    assert run_cli("tasks", "state", "waiting", "wait", RUN_ID).out == "up_for_reschedule\n"
    rows = table_rows(run_cli("tasks", "states-for-dag-run", "waiting", RUN_ID).out)
    assert any("wait" in row and "up_for_reschedule" in row for row in rows), rows
    runs = run_cli("dags", "list-runs", "waiting").out
    assert RUN_ID in runs
