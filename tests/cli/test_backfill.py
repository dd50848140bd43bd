"""``windvane dags backfill``: queue runs for a date range and drive them with the configured executor."""

from __future__ import annotations

import json

from .conftest import RunCli

RUN_IDS = [f"backfill__2024-01-0{day}T00:00:00+00:00" for day in (1, 2, 3)]


def _runs(ready: RunCli, dag_id: str) -> dict[str, str]:
    return {r["run_id"]: r["state"] for r in json.loads(ready("dags", "list-runs", dag_id, "-o", "json").out)}


def test_dry_run_changes_nothing(ready: RunCli) -> None:
    result = ready("dags", "backfill", "chain", "-s", "2024-01-01", "-e", "2024-01-03", "--dry-run")
    assert result.code == 0
    assert "Would run 3 backfill run(s) of DAG chain" in result.out
    for run_id in RUN_IDS:
        assert f"{run_id} (new)" in result.out
    assert _runs(ready, "chain") == {}


def test_backfill_runs_every_interval_to_success(ready: RunCli) -> None:
    result = ready(
        "dags", "backfill", "chain", "-s", "2024-01-01", "-e", "2024-01-03", "--max-active-runs", "2"
    )
    assert result.code == 0, result.out + result.err
    assert "Running 3 backfill run(s)" in result.out
    assert "Backfill finished: 3 success" in result.out
    assert "3/3" in result.out and "9/9" in result.out  # the progress bars' last state
    assert _runs(ready, "chain") == dict.fromkeys(RUN_IDS, "success")
    again = ready("dags", "backfill", "chain", "-s", "2024-01-01", "-e", "2024-01-03")
    assert again.code == 0 and "Nothing to backfill" in again.out


def test_failed_backfill_exits_1_and_rerun_failed_runs_it_again(ready: RunCli) -> None:
    result = ready("dags", "backfill", "failing", "-s", "2024-01-01", "-e", "2024-01-01")
    assert result.code == 1
    assert "backfill__2024-01-01T00:00:00+00:00: failed" in result.out and "1 failed" in result.out
    skipped = ready("dags", "backfill", "failing", "-s", "2024-01-01", "-e", "2024-01-01")
    assert skipped.code == 0 and "Nothing to backfill" in skipped.out
    rerun = ready("dags", "backfill", "failing", "-s", "2024-01-01", "-e", "2024-01-01", "--rerun-failed")
    assert rerun.code == 1 and "(rerun failed)" in rerun.out


def test_bad_input(ready: RunCli) -> None:
    bad_date = ready("dags", "backfill", "chain", "-s", "2024-02-30", "-e", "2024-03-01")
    assert (
        bad_date.code == 2 and "argument -s/--start-date: not an ISO 8601 date: '2024-02-30'" in bad_date.err
    )
    reversed_range = ready("dags", "backfill", "chain", "-s", "2024-03-01", "-e", "2024-02-01")
    assert reversed_range.code == 2 and "is after -e/--end-date" in reversed_range.err
    missing = ready("dags", "backfill", "chain", "-s", "2024-03-01")
    assert missing.code == 2 and "-e/--end-date" in missing.err
    unknown = ready("dags", "backfill", "nope", "-s", "2024-01-01", "-e", "2024-01-02")
    assert unknown.code == 1 and "DAG 'nope' does not exist" in unknown.err


def test_paused_dag_is_refused(ready: RunCli) -> None:
    assert ready("dags", "pause", "chain").code == 0
    result = ready("dags", "backfill", "chain", "-s", "2024-01-01", "-e", "2024-01-02")
    assert result.code == 1 and "DAG 'chain' is paused" in result.err
    assert _runs(ready, "chain") == {}
