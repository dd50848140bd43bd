"""``windvane tasks list | test | run | clear | states-for-dag-run | logs``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from .conftest import RunCli, table_rows

RUN_ID = "manual__2024-02-01T00:00:00+00:00"


def _trigger(ready: RunCli) -> None:
    result = ready("dags", "trigger", "chain", "--logical-date", "2024-02-01")
    assert result.code == 0 and RUN_ID in result.out


def _states(ready: RunCli) -> dict[str, tuple[str, int]]:
    rows = json.loads(ready("tasks", "states-for-dag-run", "chain", RUN_ID, "-o", "json").out)
    return {r["task_id"]: (r["state"], r["try_number"]) for r in rows}


def test_list_and_tree(ready: RunCli) -> None:
    listed = ready("tasks", "list", "chain")
    assert [row[:3] for row in table_rows(listed.out)] == [
        ["a", "BashOperator", "-"], ["b", "PythonOperator", "a"], ["c", "BashOperator", "b"],
    ]  # fmt: skip
    tree = ready("tasks", "list", "chain", "--tree")
    assert tree.code == 0 and tree.out.splitlines()[0] == "chain (3 tasks)"
    rows = json.loads(ready("tasks", "list", "chain", "-o", "json").out)
    assert rows[1] == {"task_id": "b", "operator": "PythonOperator", "upstream": ["a"], "downstream": ["c"]}
    assert ready("tasks", "list", "nope").code == 1


def test_test_runs_one_task_and_prints_xcoms(run_cli: RunCli) -> None:
    result = run_cli("tasks", "test", "chain", "b", "2024-02-01")
    assert result.code == 0, result.err
    assert "Task b of DAG chain (manual__2024-02-01T00:00:00+00:00): success" in result.out
    assert 'XCom return_value = {"n":1}' in result.out


def test_test_failure_exits_1_with_the_error(run_cli: RunCli) -> None:
    result = run_cli("tasks", "test", "failing", "boom")
    assert result.code == 1
    assert "Task boom of DAG failing" in result.out and ": failed" in result.out
    assert "ValueError: kaboom" in result.out


def test_test_unknown_task_names_it(run_cli: RunCli) -> None:
    result = run_cli("tasks", "test", "chain", "zzz")
    assert result.code == 1 and result.err == "windvane: error: task 'zzz' not found in DAG 'chain'\n"


def test_run_then_logs(ready: RunCli, home: Path) -> None:
    _trigger(ready)
    assert _states(ready) == {"a": ("none", 0), "b": ("none", 0), "c": ("none", 0)}
    ran = ready("tasks", "run", "chain", "a", RUN_ID)
    assert ran.code == 0, ran.out + ran.err
    assert f"Task a of run {RUN_ID} (try 1): success" in ran.out
    log = home / "logs" / "dag_id=chain" / f"run_id={RUN_ID}" / "task_id=a" / "attempt=1.log"
    assert f"Log: {log}" in ran.out
    assert _states(ready)["a"] == ("success", 1)
    logs = ready("tasks", "logs", "chain", "a", RUN_ID)
    assert logs.code == 0 and "hello-from-a" in logs.out and str(log) in logs.err

    again = ready("tasks", "run", "chain", "a", RUN_ID)
    assert again.code == 1 and "already finished (success): pass --force" in again.err
    forced = ready("tasks", "run", "chain", "a", RUN_ID, "--force")
    assert forced.code == 0 and "(try 2): success" in forced.out
    assert "hello-from-a" in ready("tasks", "logs", "chain", "a", RUN_ID).out  # the latest: attempt=2
    assert "attempt=2.log" in ready("tasks", "logs", "chain", "a", RUN_ID).err
    assert "attempt=1.log" in ready("tasks", "logs", "chain", "a", RUN_ID, "--try", "1").err

    b = ready("tasks", "run", "chain", "b", RUN_ID)
    assert b.code == 0
    c = ready("tasks", "run", "chain", "c", RUN_ID)
    assert c.code == 0 and "got-1" in ready("tasks", "logs", "chain", "c", RUN_ID).out  # XCom from b


def test_run_errors_name_the_culprit(ready: RunCli) -> None:
    _trigger(ready)
    assert "task 'zzz' not found in DAG 'chain'" in ready("tasks", "run", "chain", "zzz", RUN_ID).err
    missing_run = ready("tasks", "run", "chain", "a", "no_such_run")
    assert missing_run.code == 1 and "DAG run 'no_such_run' of DAG 'chain' does not exist" in missing_run.err


def test_run_failure_exits_1(ready: RunCli) -> None:
    assert ready("dags", "trigger", "failing", "-r", "r1").code == 0
    result = ready("tasks", "run", "failing", "boom", "r1")
    assert result.code == 1 and "(try 1): failed" in result.out


def test_logs_missing_says_where_it_looked(ready: RunCli, home: Path) -> None:
    result = ready("tasks", "logs", "chain", "a", "nope")
    assert result.code == 1
    expected = home / "logs" / "dag_id=chain" / "run_id=nope" / "task_id=a" / "attempt=<n>.log"
    assert str(expected) in result.err
    _trigger(ready)
    assert ready("tasks", "run", "chain", "a", RUN_ID).code == 0
    wrong_try = ready("tasks", "logs", "chain", "a", RUN_ID, "--try", "5")
    assert wrong_try.code == 1 and "attempt=5.log does not exist" in wrong_try.err


def test_states_for_dag_run(ready: RunCli) -> None:
    _trigger(ready)
    table = ready("tasks", "states-for-dag-run", "chain", RUN_ID)
    assert [row[:3] for row in table_rows(table.out)] == [
        ["a", "none", "0"],
        ["b", "none", "0"],
        ["c", "none", "0"],
    ]
    missing = ready("tasks", "states-for-dag-run", "chain", "nope")
    assert missing.code == 1 and "'nope'" in missing.err


def test_clear(ready: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    _trigger(ready)
    for task_id in "abc":
        assert ready("tasks", "run", "chain", task_id, RUN_ID).code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    refused = ready("tasks", "clear", "chain", "-t", "^b$", "-r", RUN_ID)
    assert refused.code == 2 and "pass --yes" in refused.err
    assert _states(ready)["b"] == ("success", 1)

    cleared = ready("tasks", "clear", "chain", "-t", "^b$", "--downstream", "-r", RUN_ID, "--yes")
    assert cleared.code == 0 and f"{RUN_ID}: cleared b, c" in cleared.out
    assert _states(ready) == {"a": ("success", 1), "b": ("none", 1), "c": ("none", 1)}
    runs = json.loads(ready("dags", "list-runs", "chain", "-o", "json").out)
    assert runs[0]["state"] == "queued"

    by_dates = ready("tasks", "clear", "chain", "-s", "2024-01-15", "-e", "2024-02-15", "--yes")
    assert by_dates.code == 0 and "cleared a" in by_dates.out
    assert (
        ready("tasks", "clear", "chain", "-s", "2025-01-01", "--yes").out
        == "No runs of DAG chain to clear.\n"
    )


def test_clear_bad_input(ready: RunCli) -> None:
    bad_regex = ready("tasks", "clear", "chain", "-t", "(", "--yes")
    assert bad_regex.code == 2 and "argument -t/--task-regex: not a valid regular expression" in bad_regex.err
    no_match = ready("tasks", "clear", "chain", "-t", "^zzz$", "--yes")
    assert no_match.code == 1 and "no task of DAG 'chain' matches -t/--task-regex '^zzz$'" in no_match.err
    both = ready("tasks", "clear", "chain", "-r", RUN_ID, "-s", "2024-01-01", "--yes")
    assert both.code == 2 and "argument -r/--run-id: not allowed with -s/--start-date" in both.err
    bad_date = ready("tasks", "clear", "chain", "-e", "someday", "--yes")
    assert bad_date.code == 2 and "argument -e/--end-date" in bad_date.err
