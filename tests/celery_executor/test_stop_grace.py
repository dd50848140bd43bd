"""A Celery worker's warm shutdown bounds a failing final write by ``[executor]
worker_stop_grace_seconds`` (as a LocalExecutor worker's SIGTERM does), not by 600 s: the main
process's ``worker_shutting_down`` sets an event its pool processes (forked after it) watch."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.faults.test_lost_final_write import FlakyDb, _setup
from windvane.celery import task
from windvane.celery.task import WorkerOptions
from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import TaskInstanceState
from windvane.core.worker import final_write
from windvane.core.worker.final_write import OutcomeRecords

GRACE = 0.5


@pytest.fixture
def options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkerOptions:
    monkeypatch.setattr(final_write, "_stop_by", None)
    monkeypatch.setattr(task, "_PROCESS", None)
    made = WorkerOptions(db_url="sqlite://", log_folder=str(tmp_path), hostname="h", stop_grace_seconds=GRACE)
    task.configure(made)
    return made


@pytest.mark.usefixtures("options")
def test_the_stop_event_reaches_a_pool_process_forked_before_it_was_set() -> None:
    process = task._process()
    pid = os.fork()
    if pid == 0:  # a pool process: forked from the main process after configure()
        os._exit(0 if process.stopping.wait(30) else 1)
    task.begin_stopping(sig="SIGTERM", how="Warm", exitcode=0)
    assert os.waitpid(pid, 0)[1] == 0


@pytest.mark.usefixtures("options")
def test_a_warm_shutdown_gives_up_a_failing_final_write_within_the_stop_grace(
    engine: Engine, tmp_path: Path
) -> None:
    task.watch_stopping(task._process())  # what warm_process starts in each pool process
    wl, _, url = _setup(engine, tmp_path)
    db = FlakyDb(url, fail_from=1, failures=-1)
    records = OutcomeRecords(str(tmp_path / "outcomes"))
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        if not pauses:  # the worker's main process is told to stop while the write is retried
            task.begin_stopping(sig="SIGTERM", how="Warm", exitcode=0)
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
    assert time.monotonic() - started < GRACE + 2 * final_write.MAX_BACKOFF
    [kept] = records.pending()  # the next worker that starts writes it
    assert OutcomeRecords.load(kept)[1].state is TaskInstanceState.SUCCESS
