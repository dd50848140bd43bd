"""The scheduler's console says how runs and tries end, without flooding on big fan-outs."""

from __future__ import annotations

import json
import logging
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from windvane.cli.outcomes import OutcomeLog
from windvane.core.model.events import RunFinished, TryFinished, TryZombie
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey
from windvane.core.scheduler.observer import LoopStats

from .conftest import RunCli

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: kaboom\n'


def _key(task_id: str = "load", map_index: int = -1) -> TaskInstanceKey:
    return TaskInstanceKey(7, 3, "etl", "manual__1", task_id, map_index)


def _run(state: DagRunState, seconds: float, *, run_id: str = "manual__1") -> RunFinished:
    return RunFinished("etl", run_id, 3, "manual", T0, state, T0, T0 + timedelta(seconds=seconds))


def _try(state: S, task_id: str = "load", *, try_number: int = 1) -> TryFinished:
    retry_at = T0 + timedelta(minutes=5) if state is S.UP_FOR_RETRY else None
    return TryFinished(_key(task_id), try_number, 2, "default_pool", "PythonOperator", state, T0, T0,
                       TRACEBACK, retry_at)  # fmt: skip


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "windvane.outcomes"]


def test_finished_runs_and_failed_tries_get_one_line_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    outcomes = OutcomeLog("/logs")
    outcomes.run_finished(_run(DagRunState.SUCCESS, 12.34))
    outcomes.run_finished(_run(DagRunState.FAILED, 3725))
    outcomes.try_finished(_try(S.UP_FOR_RETRY))
    outcomes.try_finished(_try(S.FAILED, try_number=3))
    outcomes.try_finished(_try(S.SUCCESS))  # successes and scheduler decisions: no line
    outcomes.try_finished(_try(S.UPSTREAM_FAILED))
    log = "/logs/dag_id=etl/run_id=manual__1/task_id=load"
    assert _lines(caplog) == [
        ("INFO", "Run manual__1 of DAG etl: success in 12.3 s"),
        ("WARNING", "Run manual__1 of DAG etl: failed in 1h02m05s"),
        ("WARNING", "Task load of DAG etl, run manual__1, try 1/3: failed, will retry at 12:05:00: "
                    f"ValueError: kaboom (log: {log}/attempt=1.log)"),
        ("WARNING", "Task load of DAG etl, run manual__1, try 3/3: failed: "
                    f"ValueError: kaboom (log: {log}/attempt=3.log)"),
    ]  # fmt: skip


def test_zombies_and_mapped_tasks_are_named(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    zombie = TryZombie(_key("fan", 4), 1, 0, None, None, S.FAILED, T0, "no heartbeat for 300 s", None)
    OutcomeLog("/logs").try_zombie(zombie)
    [(level, text)] = _lines(caplog)
    assert level == "WARNING"
    assert text.startswith(
        "Task fan[4] of DAG etl, run manual__1, try 1/1: stopped heartbeating (zombie), failed"
    )
    assert text.endswith("(log: /logs/dag_id=etl/run_id=manual__1/task_id=fan/map_index=4/attempt=1.log)")


def test_a_big_fan_out_is_summed_up_after_max_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    outcomes = OutcomeLog("/logs", max_lines=3)
    for n in range(500):
        outcomes.try_finished(_try(S.FAILED, f"t{n}"))
    outcomes.run_finished(_run(DagRunState.FAILED, 1))
    outcomes.loop_finished(LoopStats())
    lines = _lines(caplog)
    assert len(lines) == 4
    assert lines[-1] == (
        "WARNING",
        "... and 498 more outcome(s) in this pass (1 failed runs, 497 failed tries); "
        "see 'windvane dags list-runs <dag>'",
    )
    caplog.clear()
    outcomes.try_finished(_try(S.FAILED, "next-pass"))  # a new pass starts with a fresh budget
    outcomes.loop_finished(LoopStats())
    assert [text.split(",")[0] for _, text in _lines(caplog)] == ["Task next-pass of DAG etl"]


class _StopWhenDone(OutcomeLog):
    """Stops the scheduler (as Ctrl-C would) once the run under test has finished."""

    def run_finished(self, event: RunFinished) -> None:
        super().run_finished(event)
        if event.run_id == "by_hand":
            os.kill(os.getpid(), signal.SIGTERM)


def test_scheduler_console_reports_the_failed_run_and_try(
    ready: RunCli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ready("dags", "unpause", "failing").code == 0
    assert ready("dags", "trigger", "failing", "--run-id", "by_hand").code == 0
    monkeypatch.setattr("windvane.cli.run.OutcomeLog", _StopWhenDone)
    result = ready("scheduler", "--no-processor", "--num-runs", "5000")  # a bound, if the run never ends
    assert result.code == 0, result.err
    runs = json.loads(ready("dags", "list-runs", "failing", "-o", "json").out)
    assert {r["run_id"]: r["state"] for r in runs}["by_hand"] == "failed"
    log = home / "logs" / "dag_id=failing" / "run_id=by_hand" / "task_id=boom" / "attempt=1.log"
    assert (
        f"WARNING windvane.outcomes: Task boom of DAG failing, run by_hand, try 1/1: failed: "
        f"ValueError: kaboom (log: {log})" in result.err
    )
    assert "WARNING windvane.outcomes: Run by_hand of DAG failing: failed in " in result.err
