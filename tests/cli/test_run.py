"""``windvane scheduler`` and ``windvane dag-processor`` in-process (bounded with --num-runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
from sqlalchemy import create_engine

from windvane.core.store import jobs
from windvane.core.store.sqlite_lock import SqliteSchedulerLock

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


def test_a_second_scheduler_on_one_sqlite_database_refuses_to_start(ready: RunCli, home: Path) -> None:
    database = home / "windvane.db"
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as conn:  # the running scheduler's job, as it registers itself
            job_id = jobs.start_job(
                conn, "scheduler", hostname="sched-host", pid=4242, now=pendulum.now("UTC")
            )
        with SqliteSchedulerLock(engine):  # held as the first scheduler holds it
            refused = ready("scheduler", "--no-processor", "--num-runs", "1")
        assert refused.code == 1
        assert f"another scheduler is running on the SQLite database {database}" in refused.err
        assert f"scheduler job {job_id}, pid 4242 on sched-host" in refused.err
        assert "use PostgreSQL" in refused.err
        # Released (the first one stopped, or was killed: the kernel drops the lock): it starts.
        assert ready("scheduler", "--no-processor", "--num-runs", "1").code == 0
    finally:
        engine.dispose()
