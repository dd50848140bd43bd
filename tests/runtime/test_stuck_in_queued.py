"""A try nobody will run must not stay queued (issue 15 hardening, defect 1).

Two ways out, as in Airflow: the worker whose claim fails on an error retrying cannot cure fails
the try itself (Airflow: the executor reports it failed while the database says queued), and
the scheduler fails any try queued longer than ``task_queued_timeout_seconds`` (Airflow's
``task_queued_timeout``), whatever left it there. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine, update

from windvane.core.authoring.dag import DAG
from windvane.core.executors.base import Executor
from windvane.core.model.clock import FakeClock
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import LoopStats
from windvane.core.store.engine import begin_write
from windvane.core.store.raw import RawDb
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run as dag_run_table
from windvane.core.store.try_claim import claim_try
from windvane.core.worker import claiming, runner
from windvane.core.worker.dag_loader import DagLoader
from windvane.testing import queued_try, register_dag, run_states, ti_row, ti_states

from .test_journal_writes import summary
from .test_scheduler import NOW, Noop, Recorder, make_scheduler

BROKEN = sqlite3.IntegrityError("CHECK constraint failed: a bug in the claim")
DAG_SOURCE = """
from datetime import datetime, timedelta, timezone
from windvane import DAG, PythonOperator

with DAG("stuck", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    PythonOperator(task_id="work", python_callable=lambda: None, retries={retries},
                   retry_delay=timedelta(seconds=7))
"""


class LostMessages(Executor):
    """Accepts every workload and never runs it (a broker that lost the messages)."""

    name = "lost"

    def __init__(self) -> None:
        super().__init__(8)
        self.accepted: list[Workload] = []
        self.pending: list[TaskEvent] = []
        self._woken = threading.Event()

    def start(self) -> None:
        pass

    def queue(self, workload: Workload) -> None:
        self.accepted.append(workload)

    def events(self) -> list[TaskEvent]:
        events, self.pending = self.pending, []
        return events

    def wait(self, timeout: float) -> None:
        self._woken.clear()

    def wake(self) -> None:
        self._woken.set()

    @property
    def queued_count(self) -> int:
        return 0

    @property
    def running_count(self) -> int:
        return 0

    def end(self, *, graceful: bool = True) -> None:
        pass


def _started(
    engine: Engine, dag: DAG, clock: FakeClock, **config: object
) -> tuple[Scheduler, LostMessages, str]:
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _pk, run_id = trigger_dag(conn, ser, now=NOW)
        conn.execute(update(dag_run_table).values(state="running", start_date=NOW))
    executor = LostMessages()
    s = make_scheduler(engine, executor, clock, zombie_check_interval_seconds=0.0, **config)  # type: ignore[arg-type]
    s.start()
    return s, executor, run_id


def test_a_try_queued_past_task_queued_timeout_is_failed_and_retried(engine: Engine) -> None:
    with DAG("stuck", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="work", retries=1, retry_delay=timedelta(seconds=7)) >> Noop(task_id="after")
    clock = FakeClock(NOW)
    s, executor, run_id = _started(engine, dag, clock, task_queued_timeout_seconds=600.0)
    recorder = Recorder()
    s.observer = recorder
    s.run_once()
    [first] = executor.accepted
    assert ti_row(engine, first.ti_id)["state"] == "queued"
    clock.advance(599)
    s.run_once()
    assert ti_row(engine, first.ti_id)["state"] == "queued"  # not yet
    clock.advance(2)
    s.run_once()
    row = ti_row(engine, first.ti_id)
    assert row["state"] == "up_for_retry"
    assert "task_queued_timeout (600 s)" in row["error"]
    assert row["next_retry_at"] is not None
    assert ("try_finished", "work", "up_for_retry", "queued_timeout") in summary(engine)
    assert sum(loop.queued_timeouts for loop in recorder.loops) == 1

    # The lost message turns up now and its claim fails: that stale event must not touch try 2.
    clock.advance(8)
    s.run_once()
    [_, second] = executor.accepted
    assert second.try_number == 2 and ti_row(engine, second.ti_id)["state"] == "queued"
    executor.pending.append(TaskEvent(key=first.key, try_number=1, state=None, error="not claimed"))
    s.run_once()
    assert second.ti_id in s.book.ours
    assert s.book.find(second.ti_id)[1].state.value == "queued"  # type: ignore[index]

    clock.advance(601)
    s.run_once()
    states = {t: st for (_, t), st in ti_states(engine, "stuck").items()}
    assert states == {"work": "failed", "after": "upstream_failed"}
    assert run_states(engine, "stuck")[run_id] == "failed"


def test_a_try_claimed_before_the_timeout_write_is_left_alone(engine: Engine) -> None:
    with DAG("stuck", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="work")
    clock = FakeClock(NOW)
    s, executor, _run_id = _started(engine, dag, clock, task_queued_timeout_seconds=60.0)
    s.run_once()
    [first] = executor.accepted
    db = RawDb(engine.url.render_as_string(hide_password=False))
    try:
        assert claim_try(db, first, hostname="late", pid=1) is not None
    finally:
        db.close()
    clock.advance(61)
    s.run_once()
    assert ti_row(engine, first.ti_id)["state"] == "running"  # a running try is the zombie sweep's


def _workload_and_loader(engine: Engine, tmp_path: Path, retries: int) -> tuple[Workload, DagLoader]:
    dag_file = tmp_path / "stuck.py"
    dag_file.write_text(DAG_SOURCE.format(retries=retries))
    workload = queued_try(engine, str(dag_file), "stuck", "work", max_tries=retries)
    return workload, DagLoader()


@pytest.mark.parametrize("retries", [0, 1])
def test_a_claim_failing_on_a_non_transient_error_fails_the_try_naming_it(
    engine: Engine,
    tmp_path: Path,
    retries: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    workload, loader = _workload_and_loader(engine, tmp_path, retries)

    def broken_claim(*args: object, **kwargs: object) -> None:
        raise BROKEN

    monkeypatch.setattr(claiming, "claim_try", broken_claim)
    caplog.set_level(logging.ERROR)
    event = runner.run_workload(
        workload, engine=engine, loader=loader, log_folder=str(tmp_path / "logs"), hostname="h"
    )
    expected = "up_for_retry" if retries else "failed"
    assert event.state == expected
    row = ti_row(engine, workload.ti_id)
    assert row["state"] == expected
    for name in ("'stuck'", "'work'", repr(workload.run_id), "IntegrityError"):
        assert name in row["error"], row["error"]
        assert name in caplog.text
    if retries:
        assert row["next_retry_at"] is not None  # after the task's own retry delay
    assert ("try_finished", "work", expected, "claim_failed") in summary(engine)


def test_if_even_failing_the_try_fails_it_stays_queued_for_the_timeout(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload, loader = _workload_and_loader(engine, tmp_path, 0)

    def broken(*args: object, **kwargs: object) -> None:
        raise BROKEN

    monkeypatch.setattr(claiming, "claim_try", broken)
    monkeypatch.setattr(claiming, "fail_unclaimed_try", broken)
    with pytest.raises(sqlite3.IntegrityError):
        runner.run_workload(
            workload, engine=engine, loader=loader, log_folder=str(tmp_path / "logs"), hostname="h"
        )
    assert ti_row(engine, workload.ti_id)["state"] == "queued"


def test_the_loop_stats_count_queued_timeouts() -> None:
    assert LoopStats().queued_timeouts == 0
