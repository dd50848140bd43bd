"""``windvane dags test``: a whole run in-process, with or without the database."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import BROKEN_DAG, CHAIN_DAG, RunCli, table_rows, write_dag


def test_success_prints_each_task_and_exits_0(run_cli: RunCli) -> None:
    result = run_cli("dags", "test", "chain", "2024-03-01")  # no database at all: the folder is scanned
    assert result.code == 0, result.err
    assert "manual__2024-03-01T00:00:00+00:00" in result.out
    assert [row[:3] for row in table_rows(result.out)] == [
        ["a", "success", "1"],
        ["b", "success", "1"],
        ["c", "success", "1"],
    ]
    assert result.out.rstrip().endswith("Run manual__2024-03-01T00:00:00+00:00 of DAG chain: success")


def test_failure_prints_states_and_error_and_exits_1(run_cli: RunCli) -> None:
    result = run_cli("dags", "test", "failing", "-o", "json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["state"] == "failed"
    states = {t["task_id"]: (t["state"], t["tries"]) for t in report["tasks"]}
    assert states == {"ok": ("success", 1), "boom": ("failed", 1), "after": ("upstream_failed", 0)}
    boom = next(t for t in report["tasks"] if t["task_id"] == "boom")
    assert "ValueError: kaboom" in boom["error"]
    table = run_cli("dags", "test", "failing")
    assert table.code == 1
    assert "  boom (failed): ValueError: kaboom" in table.out
    assert (table.out + table.err).count("Traceback (most recent call last)") == 1  # in the log line only
    assert "upstream_failed" in table.out
    assert table.out.rstrip().endswith("of DAG failing: failed")


def test_conf_reaches_the_tasks(run_cli: RunCli, dags_folder: Path) -> None:
    write_dag(
        dags_folder,
        "confd.py",
        """\
        from windvane import DAG, PythonOperator

        def _check(params):
            assert params["who"] == "cli", params

        with DAG("confd", schedule=None) as dag:
            PythonOperator(task_id="check", python_callable=_check)
        """,
    )
    assert run_cli("dags", "test", "confd", "--conf", '{"who": "cli"}').code == 0
    assert run_cli("dags", "test", "confd", "--conf", '{"who": "someone else"}').code == 1
    bad = run_cli("dags", "test", "confd", "--conf", "{")
    assert bad.code == 2 and "argument -c/--conf" in bad.err


def test_uses_the_stored_file_and_reports_its_import_error(ready: RunCli, dags_folder: Path) -> None:
    write_dag(dags_folder, "chain.py", CHAIN_DAG + "\nraise RuntimeError('chain broke')\n")
    result = ready("dags", "test", "chain")
    assert result.code == 1
    assert str(dags_folder / "chain.py") in result.err
    assert "RuntimeError: chain broke" in result.err
    assert "Traceback (most recent call last)" in result.err  # the user's trimmed traceback
    assert "windvane/cli" not in result.err  # ... without Windvane's own frames


def test_unknown_dag_names_it_and_the_files_that_failed(run_cli: RunCli, dags_folder: Path) -> None:
    write_dag(dags_folder, "broken.py", BROKEN_DAG)
    result = run_cli("dags", "test", "nope")
    assert result.code == 1
    assert "DAG 'nope' is not defined in any file of the DAGs folder" in result.err
    assert str(dags_folder / "broken.py") in result.err and "broken on purpose" in result.err


def test_bad_logical_date_names_the_argument(run_cli: RunCli) -> None:
    result = run_cli("dags", "test", "chain", "tomorrow-ish")
    assert result.code == 2 and "argument logical_date: not an ISO 8601 date" in result.err
