"""Issue 12, defect 4: a finished try is never run again because its final write was lost.

The failures are injected through the store interface: a :class:`RawDb` whose write
transactions fail while the test says so. Each try appends a line to a side-effect file, so a
second execution would show.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine

from tests.forking.helpers import wait_until
from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import TaskInstanceState
from windvane.core.store.raw import RawDb, Tx
from windvane.core.worker import final_write
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.final_write import OutcomeRecords, replay_outcomes
from windvane.core.worker.runner import run_workload
from windvane.testing import queued_try, ti_row, write_dag_file

T = TypeVar("T")

DAG_SOURCE = """
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import PythonOperator

def once():
    with open({ran!r}, "a") as f:
        f.write("ran\\n")
    return 1

with DAG("lost", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    PythonOperator(task_id="once", python_callable=once, retries=2)
"""


class FlakyDb(RawDb):
    """Write transactions number ``fail_from`` and later fail, ``failures`` times (-1: always)."""

    def __init__(self, url: str, *, fail_from: int, failures: int) -> None:
        super().__init__(url)
        self.writes = 0
        self.fail_from = fail_from
        self.failures = failures
        self.injected = 0

    def write(self, body: Callable[[Tx], T]) -> T:
        self.writes += 1
        if self.writes >= self.fail_from and (self.failures < 0 or self.injected < self.failures):
            self.injected += 1
            raise OSError("server closed the connection unexpectedly (injected)")
        return super().write(body)


def _setup(engine: Engine, tmp_path: Path) -> tuple[Any, Path, str]:
    ran = tmp_path / "ran.txt"
    dag_file = write_dag_file(tmp_path, DAG_SOURCE.format(ran=str(ran)))
    wl = queued_try(engine, dag_file, "lost", "once", max_tries=2)
    return wl, ran, engine.url.render_as_string(hide_password=False)


def _executions(ran: Path) -> int:
    return len(ran.read_text().splitlines()) if ran.exists() else 0


def test_the_final_write_is_retried_until_it_lands(engine: Engine, tmp_path: Path) -> None:
    wl, ran, url = _setup(engine, tmp_path)
    db = FlakyDb(url, fail_from=1, failures=4)  # the finish is the first write transaction
    records = OutcomeRecords(str(tmp_path / "outcomes"))
    try:
        event = run_workload(
            wl,
            db=db,
            loader=DagLoader(),
            log_folder=str(tmp_path / "logs"),
            hostname="h",
            outcome_records=records,
        )
    finally:
        db.close()
    assert db.injected == 4
    assert event.state == "success"
    assert ti_row(engine, wl.ti_id)["state"] == "success"
    assert _executions(ran) == 1
    assert records.pending() == []


def test_an_outcome_kept_by_a_killed_worker_is_written_at_the_next_start(
    engine: Engine, tmp_path: Path
) -> None:
    wl, ran, url = _setup(engine, tmp_path)
    records = OutcomeRecords(str(tmp_path / "outcomes"))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the worker, killed below; its final write never lands
        code = 1
        try:
            db = FlakyDb(url, fail_from=1, failures=-1)
            run_workload(
                wl,
                db=db,
                loader=DagLoader(),
                log_folder=str(tmp_path / "logs"),
                hostname="h",
                outcome_records=records,
            )
        finally:
            os._exit(code)
    try:
        assert wait_until(lambda: bool(records.pending()), timeout=30), "no outcome was kept"
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    [kept] = records.pending()
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert ti_row(engine, wl.ti_id)["state"] == "running"  # the write never landed

    db = RawDb(url)  # the next worker, before it takes any work
    try:
        assert replay_outcomes(db, records) == 1
    finally:
        db.close()
    assert ti_row(engine, wl.ti_id)["state"] == "success"
    assert records.pending() == []
    assert _executions(ran) == 1


def test_replaying_an_outcome_settled_elsewhere_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    wl, ran, url = _setup(engine, tmp_path)
    db = RawDb(url)
    records = OutcomeRecords(str(tmp_path / "outcomes"))
    try:
        event = run_workload(wl, db=db, loader=DagLoader(), log_folder=str(tmp_path / "logs"), hostname="h")
        assert event.state == "success"
        records.keep(wl, TryOutcome(state=TaskInstanceState.FAILED, error="stale"), None, None)
        assert replay_outcomes(db, records) == 1
    finally:
        db.close()
    assert ti_row(engine, wl.ti_id)["state"] == "success"  # the guard kept the landed outcome
    assert records.pending() == []
    assert _executions(ran) == 1


@pytest.mark.parametrize("failures", [1])
def test_a_write_failing_past_the_give_up_time_raises_and_keeps_the_record(
    engine: Engine, tmp_path: Path, failures: int
) -> None:
    wl, _, url = _setup(engine, tmp_path)
    db = FlakyDb(url, fail_from=1, failures=-1)
    records = OutcomeRecords(str(tmp_path / "outcomes"))
    try:
        with pytest.raises(OSError, match="injected"):
            run_workload(
                wl,
                db=db,
                loader=DagLoader(),
                log_folder=str(tmp_path / "logs"),
                hostname="h",
                outcome_records=records,
                final_write_give_up_seconds=0.5,
            )
    finally:
        db.close()
    assert db.injected >= failures + 1
    assert len(records.pending()) == 1


def test_a_stopping_worker_gives_up_retrying_within_its_grace_and_keeps_the_record(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM of a worker retrying its final write: bounded by the stop grace, not 600 s."""
    monkeypatch.setattr(final_write, "_stop_by", None)
    wl, _, url = _setup(engine, tmp_path)
    db = FlakyDb(url, fail_from=1, failures=-1)
    records = OutcomeRecords(str(tmp_path / "outcomes"))
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        if not pauses:  # the worker's SIGTERM handler, while the write is being retried
            final_write.stop_retrying_by(0.5)
        pauses.append(seconds)
        time.sleep(seconds)

    started = time.monotonic()
    try:
        with pytest.raises(OSError, match="injected"):
            final_write.record_outcome(
                db,
                wl,
                TryOutcome(state=TaskInstanceState.SUCCESS),
                records=records,
                give_up_seconds=600.0,
                pause=pause,
            )
    finally:
        db.close()
    assert time.monotonic() - started < 0.5 + final_write.MAX_BACKOFF
    assert sum(pauses) <= 0.5
    [kept] = records.pending()  # the next worker that starts writes it
    assert OutcomeRecords.load(kept)[1].state is TaskInstanceState.SUCCESS
