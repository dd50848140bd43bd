"""The integrity checks without pytest's collection: guards in the parse child, checks, baseline."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from windvane.testing.integrity import Baseline, BaselineError, DagFolder, ParseSettings, Policy, run_checks
from windvane.testing.integrity.checks import check_cycles, check_default_args, check_schedule
from windvane.testing.integrity.facts import DagFacts

HEADER = "from windvane import DAG, EmptyOperator\n"


def _folder(tmp_path: Path, files: dict[str, str]) -> DagFolder:
    for name, body in files.items():
        (tmp_path / name).write_text(HEADER + textwrap.dedent(body))
    return DagFolder.parse(str(tmp_path), ParseSettings(timeout=20, parallelism=2))


def test_guards_block_databases_and_record_caught_network_calls(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "sqlite_at_import.py": """
                import sqlite3
                ROWS = sqlite3.connect("warehouse.db").execute("select 1").fetchall()
            """,
            "engine_at_import.py": """
                import sqlalchemy
                ENGINE = sqlalchemy.create_engine("sqlite://")  # creating is fine: it does not connect
                with ENGINE.connect() as conn:
                    pass
            """,
            "caught_socket.py": """
                import socket
                try:
                    socket.create_connection(("127.0.0.1", 9), timeout=1)
                except OSError:
                    pass
                with DAG("caught_socket", schedule=None):
                    EmptyOperator(task_id="t")
            """,
        },
    )
    failed = {r.check_id: r.message for r in run_checks(folder, Policy()) if r.status == "failed"}
    assert set(failed) == {
        "sqlite_at_import.py::import",
        "engine_at_import.py::import",
        "caught_socket.py::top_level_access",
    }
    assert (
        "database access at import time: sqlite3.connect('warehouse.db') (sqlite_at_import.py:4)"
        in failed["sqlite_at_import.py::import"]
    )
    assert "Engine.connect() on sqlite://" in failed["engine_at_import.py::import"]
    assert (
        "network access at import time: socket.getaddrinfo('127.0.0.1', 9) (caught_socket.py:5)"
        in failed["caught_socket.py::top_level_access"]
    )
    assert not (tmp_path / "warehouse.db").exists()


def test_a_file_with_two_dags_fails_only_the_broken_one(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "two.py": """
                import pendulum
                with DAG("good", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
                    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
                with DAG("bad", schedule="@daily"):
                    a = EmptyOperator(task_id="a")
                    b = EmptyOperator(task_id="b")
                    a >> b >> a
            """
        },
    )
    results = {r.check_id: r for r in run_checks(folder, Policy())}
    assert [i for i, r in results.items() if r.status == "failed"] == [
        "two.py::bad::cycles",
        "two.py::bad::schedule",
    ]
    assert results["two.py::bad::cycles"].message == "DAG 'bad' has a dependency cycle: a -> b -> a"
    assert "is scheduled but has no start_date" in results["two.py::bad::schedule"].message
    assert all(r.status == "passed" for i, r in results.items() if "::good::" in i)


def _facts(**changes: object) -> DagFacts:
    base: dict[str, object] = {
        "dag_id": "d",
        "line": 1,
        "upstream": {"a": [], "b": ["a"]},
        "schedule": "@daily",
        "schedulable": True,
        "start_date": "2024-01-01T00:00:00+00:00",
        "first_run": "2024-01-01T00:00:00+00:00",
        "owners": {"a": "windvane", "b": "ops"},
        "retries": {"a": 0, "b": 3},
        "tags": ["x"],
    }
    base.update(changes)
    return DagFacts(**base)  # type: ignore[arg-type]


def test_checks_are_plain_functions_of_facts() -> None:
    assert not check_cycles(_facts(), Policy()).failed
    looped = check_cycles(_facts(upstream={"a": ["c"], "b": ["a"], "c": ["b"]}), Policy())
    assert looped.message == "DAG 'd' has a dependency cycle: a -> b -> c -> a"
    assert not check_schedule(_facts(), Policy()).failed
    assert check_schedule(_facts(first_run=None), Policy()).message.endswith(
        "never produces a run after 2024-01-01T00:00:00+00:00"
    )
    assert not check_schedule(_facts(schedulable=False, start_date=None, first_run=None), Policy()).failed
    policy = Policy(require_owner=True, min_retries=1, required_tags=("team",), allowed_tags=("team",))
    message = check_default_args(_facts(), policy).message
    assert "tasks without an owner: a" in message and "tasks retrying fewer than 1 times: a (0)" in message
    assert "missing required tags: team" in message and "tags not allowed: x (allowed: team)" in message
    assert not check_default_args(
        _facts(owners={"a": "x", "b": "y"}, retries={"a": 1, "b": 1}, tags=["team"]), policy
    ).failed


def test_baseline_file_is_strict() -> None:
    baseline = Baseline.parse(
        "# known\n\netl.py::import   vendor SDK (OPS-1)\n::unique_dag_ids two copies\n", "b.txt"
    )
    assert baseline.reason("etl.py::import") == "vendor SDK (OPS-1)"
    assert baseline.unknown(["etl.py::import"]) == ["::unique_dag_ids"]
    for text, message in [
        ("etl.py::import\n", "b.txt:1: etl.py::import needs a reason after the id"),
        ("etl.py reason\n", "b.txt:1: 'etl.py' is not a check id"),
        ("a.py::import x\na.py::import y\n", "b.txt:2: a.py::import is listed twice"),
    ]:
        with pytest.raises(BaselineError, match=message.replace("(", r"\(").replace(")", r"\)")):
            Baseline.parse(text, "b.txt")
    assert Baseline.parse(Baseline.render({"x.py::import": "why"})).entries == {"x.py::import": "why"}


def test_cross_dag_targets_must_exist_in_the_folder(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "up.py": """
                from windvane import TaskGroup
                with DAG("up", schedule=None):
                    with TaskGroup("grp"):
                        EmptyOperator(task_id="t")
                    EmptyOperator(task_id="a")
            """,
            "down.py": """
                from windvane import ExternalTaskSensor, TriggerDagRunOperator
                with DAG("down", schedule=None):
                    ExternalTaskSensor(task_id="ok", external_dag_id="up", external_task_id="a")
                    ExternalTaskSensor(task_id="ok_group", external_dag_id="up", external_task_group_id="grp")
                    ExternalTaskSensor(task_id="no_task", external_dag_id="up", external_task_ids=["a", "zz"])
                    ExternalTaskSensor(task_id="no_group", external_dag_id="up", external_task_group_id="g2")
                    ExternalTaskSensor(task_id="no_dag", external_dag_id="gone")
                    ExternalTaskSensor(task_id="templated", external_dag_id="{{ params.dag }}")
                    TriggerDagRunOperator(task_id="trigger_ok", trigger_dag_id="up")
                    TriggerDagRunOperator(task_id="trigger_gone", trigger_dag_id="nowhere")
            """,
        },
    )
    results = {r.check_id: r for r in run_checks(folder, Policy())}
    verdict = results["::cross_dag_targets"]
    assert verdict.status == "failed"
    lines = sorted(line.strip() for line in verdict.message.splitlines()[1:])
    assert lines == [
        "down.py: DAG 'down' task 'no_dag' (ExternalTaskSensor) points at DAG 'gone', which no file defines",
        "down.py: DAG 'down' task 'no_group' (ExternalTaskSensor) waits for task group 'g2' that DAG 'up' "
        "does not have",
        "down.py: DAG 'down' task 'no_task' (ExternalTaskSensor) waits for task(s) ['zz'] that DAG 'up' "
        "does not have",
        "down.py: DAG 'down' task 'trigger_gone' (TriggerDagRunOperator) points at DAG 'nowhere', which no "
        "file defines",
    ]
