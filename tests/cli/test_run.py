"""``windvane scheduler`` and ``windvane dag-processor`` in-process (bounded with --num-runs)."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import CHAIN_DAG, RunCli, write_dag


def test_dag_processor_parses_new_files(run_cli: RunCli, dags_folder: Path) -> None:
    assert run_cli("db", "migrate").code == 0
    first = run_cli("dag-processor", "-n", "1")
    assert first.code == 0 and "2 parsed" in first.out and "2 DAGs written" in first.out
    write_dag(dags_folder, "more.py", CHAIN_DAG.replace('"chain"', '"more"'))
    second = run_cli("dag-processor", "-n", "1")
    assert second.code == 0 and "1 parsed" in second.out and "2 unchanged" in second.out
    assert "more" in {d["dag_id"] for d in json.loads(run_cli("dags", "list", "-o", "json").out)}


def test_services_need_a_migrated_database(run_cli: RunCli) -> None:
    for command in (["scheduler", "-n", "1"], ["dag-processor", "-n", "1"]):
        result = run_cli(*command)
        assert result.code == 1 and "is empty (no Windvane tables)" in result.err
        assert "run 'windvane db migrate' to create them" in result.err  # the command, not a paraphrase


def test_scheduler_starts_and_stops_after_num_runs(ready: RunCli) -> None:
    result = ready("scheduler", "--no-processor", "--num-runs", "3")
    assert result.code == 0, result.err
    # The @daily DAGs (catchup=False) each got their latest scheduled run.
    runs = json.loads(ready("dags", "list-runs", "chain", "-o", "json").out)
    assert [r["run_type"] for r in runs] == ["scheduled"]


def test_bad_num_runs_is_a_usage_error(ready: RunCli) -> None:
    result = ready("scheduler", "--num-runs", "0")
    assert result.code == 2 and "argument -n/--num-runs: must be 1 or more" in result.err
