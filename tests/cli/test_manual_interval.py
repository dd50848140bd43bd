"""``dags test``, ``tasks test`` and ``dags trigger`` give a run the same data interval (Airflow's
manual-run inference: for a periodic schedule, the last interval complete at the logical date)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import RunCli, write_dag

# @yearly: "now" falls in the same year for every command of a test (unless run across New Year's Eve).
WINDOW_DAG = """\
import pendulum
from windvane import DAG, PythonOperator


def _record(data_interval_start, data_interval_end, run_id):
    with open({out!r}, "a") as handle:
        handle.write(f"{{data_interval_start.isoformat()}} {{data_interval_end.isoformat()}}\\n")


with DAG("window", schedule="@yearly", start_date=pendulum.datetime(2020, 1, 1), catchup=False) as dag:
    PythonOperator(task_id="record", python_callable=_record)
"""


@pytest.fixture
def recorded(dags_folder: Path, tmp_path: Path, run_cli: RunCli) -> tuple[RunCli, Path]:
    out = tmp_path / "intervals.txt"
    write_dag(dags_folder, "window.py", WINDOW_DAG.format(out=str(out)))
    assert run_cli("db", "migrate").code == 0
    assert run_cli("dag-processor", "--num-runs", "1").code == 0
    return run_cli, out


def _last_interval(out: Path) -> str:
    return out.read_text().splitlines()[-1]


def _triggered_interval(run_cli: RunCli, out: Path, *extra: str) -> str:
    triggered = run_cli("dags", "trigger", "window", "--run-id", "by_trigger", *extra)
    assert triggered.code == 0, triggered.err
    ran = run_cli("tasks", "run", "window", "record", "by_trigger")
    assert ran.code == 0, ran.out + ran.err
    return _last_interval(out)


def test_without_a_date_test_and_trigger_use_the_last_complete_interval(
    recorded: tuple[RunCli, Path],
) -> None:
    run_cli, out = recorded
    assert run_cli("dags", "test", "window").code == 0
    by_dags_test = _last_interval(out)
    assert run_cli("tasks", "test", "window", "record").code == 0
    by_tasks_test = _last_interval(out)
    by_trigger = _triggered_interval(run_cli, out)
    assert by_dags_test == by_tasks_test == by_trigger
    start, end = by_trigger.split()
    assert start.endswith("-01-01T00:00:00+00:00") and end.endswith("-01-01T00:00:00+00:00")
    assert int(end[:4]) - int(start[:4]) == 1  # a whole, complete year, not [now, next tick)


def test_with_a_date_test_and_trigger_agree(recorded: tuple[RunCli, Path]) -> None:
    run_cli, out = recorded
    assert run_cli("dags", "test", "window", "2024-06-01").code == 0
    by_dags_test = _last_interval(out)
    assert run_cli("tasks", "test", "window", "record", "2024-06-01").code == 0
    by_tasks_test = _last_interval(out)
    by_trigger = _triggered_interval(run_cli, out, "--logical-date", "2024-06-01")
    assert (
        by_dags_test == by_tasks_test == by_trigger == "2023-01-01T00:00:00+00:00 2024-01-01T00:00:00+00:00"
    )
