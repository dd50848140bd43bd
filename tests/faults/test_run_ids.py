"""Defect 6: run ids are checked when a run is triggered, and no log path leaves the logs folder.

Before the fix ``dags trigger --run-id 'x/../../../../escape'`` was accepted and the task log was
written outside the logs folder; a 300-character run id was accepted and every try then failed
with "File name too long".
"""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine

from tests.faults.conftest import RunCliLike
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.model.run_ids import MAX_RUN_ID_LENGTH, check_run_id
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.worker.runner import log_path_for
from windvane.errors import InvalidRunIdError
from windvane.testing import register_dag, run_states
from windvane.testing.workloads import make_workload

NOW = pendulum.datetime(2024, 3, 10, 12, tz="UTC")
BAD = [
    "x/../../../../escape",
    "../up",
    "a" * 300,
    "a" * (MAX_RUN_ID_LENGTH + 1),
    "",
    "sp ace",
    "new\nline",
    "é",
]


@pytest.mark.parametrize("run_id", BAD)
def test_bad_run_ids_are_refused_naming_them(run_id: str) -> None:
    with pytest.raises(InvalidRunIdError) as caught:
        check_run_id(run_id)
    assert repr(run_id)[:60] in str(caught.value)


@pytest.mark.parametrize(
    "run_id",
    ["manual__2024-01-01T00:00:00+00:00", "backfill__2024-01-01T00:00:00.123+05:30", "my.run~1", "a" * 248],
)
def test_usual_run_ids_are_accepted(run_id: str) -> None:
    assert check_run_id(run_id) == run_id


def test_trigger_refuses_a_bad_run_id(engine: Engine) -> None:
    with DAG("d", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
        EmptyOperator(task_id="t")
    ser = register_dag(engine, dag, now=NOW)
    with pytest.raises(InvalidRunIdError, match="escape"), begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW, run_id="x/../../../../escape")
    assert run_states(engine, "d") == {}


def test_cli_trigger_refuses_traversal_and_300_characters(ready: RunCliLike) -> None:
    for run_id in ("x/../../../../escape", "r" * 300):
        result = ready("dags", "trigger", "chain", "--run-id", run_id)
        assert result.code != 0
        assert "run id" in result.err and "A-Z" in result.err
    assert ready("dags", "trigger", "chain", "--run-id", "ok_run-1").code == 0


def test_a_log_path_outside_the_logs_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    escaping = make_workload(1, 1, "d", "t", "/dags/d.py", run_id="x/../../../../escape")
    with pytest.raises(InvalidRunIdError, match="outside the logs folder"):
        log_path_for(str(root), escaping)
    fine = log_path_for(
        str(root), make_workload(1, 1, "d", "t", "/dags/d.py", run_id="manual__2024-01-01T00:00:00+00:00")
    )
    assert Path(fine).resolve().is_relative_to(root.resolve())
