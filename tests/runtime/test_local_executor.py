"""LocalExecutor and SequentialExecutor end to end on a real database."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from windvane.core.executors import ExecutorOptions, create_executor, local_worker, worker_inbox
from windvane.core.executors.local import LocalExecutor
from windvane.core.executors.sequential import SequentialExecutor
from windvane.core.model.workload import Workload
from windvane.core.worker import runner
from windvane.errors import ConfigError
from windvane.testing import (
    collect_events,
    insert_run,
    insert_task_instances,
    make_workload,
    queued_try,
    ti_row,
    wait_for,
    write_dag_file,
    xcom_text,
)

MakeLocal = Callable[..., LocalExecutor]

DAG_SOURCE = """
import os, time
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import PythonOperator

def noop():
    return None

def crash():
    os._exit(3)

def blocker(params):
    # Records its pid, then waits (bounded) for the test to create the release file.
    with open(params["pid_file"], "w") as handle:
        handle.write(str(os.getpid()))
    deadline = time.monotonic() + 30
    while not os.path.exists(params["release"]):
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.02)
    return "released"

with DAG("ex", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    for i in range(20):
        PythonOperator(task_id=f"t{i}", python_callable=noop)
    for i in range(4):
        PythonOperator(task_id=f"pid{i}", python_callable=os.getpid)
    PythonOperator(task_id="crash", python_callable=crash)
    PythonOperator(task_id="blocker", python_callable=blocker, retries=1, retry_delay=60,
                   params={"pid_file": PID_FILE, "release": RELEASE})
"""


@pytest.fixture
def dag_file(tmp_path: Path) -> str:
    header = f"PID_FILE = {str(tmp_path / 'blocker.pid')!r}\nRELEASE = {str(tmp_path / 'release')!r}\n"
    return write_dag_file(tmp_path, header + DAG_SOURCE)


@pytest.fixture
def make_local(engine: Engine, tmp_path: Path) -> Iterator[MakeLocal]:
    made: list[LocalExecutor] = []
    url = engine.url.render_as_string(hide_password=False)

    def factory(parallelism: int, send_ahead: bool = False, **options: Any) -> LocalExecutor:
        executor = LocalExecutor(
            parallelism,
            db_url=url,
            log_folder=str(tmp_path / "logs"),
            kill_grace_seconds=1.0,
            send_ahead=send_ahead,
            **options,
        )
        executor.start()
        made.append(executor)
        return executor

    yield factory
    for executor in made:
        executor.end(graceful=False)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _blocker_pid(tmp_path: Path) -> int:
    pid_file = tmp_path / "blocker.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", what="the blocker task to start")
    return int(pid_file.read_text())


def test_twenty_tasks_on_two_workers(engine: Engine, dag_file: str, make_local: MakeLocal) -> None:
    executor = make_local(2)
    run = insert_run(engine, "ex")
    ids = insert_task_instances(engine, run, "ex", [f"t{i}" for i in range(20)])
    for task_id, ti_id in ids.items():
        executor.queue(make_workload(ti_id, run, "ex", task_id, dag_file))
    assert executor.queued_count + executor.running_count == 20
    final, running = collect_events(executor, 20)
    assert {e.task_id for e in final} == set(ids) and {e.state for e in final} == {"success"}
    assert len(running) == 20
    pids = {ti_row(engine, ti_id)["pid"] for ti_id in ids.values()}
    assert len(pids) == 2 and os.getpid() not in pids  # two warm workers did all the work
    assert executor.running_count == 0 and executor.open_slots == 2


@pytest.mark.parametrize(
    ("options", "processes"),
    [
        ({}, 1),  # the default: try hosts, one process for the four tries
        ({"tries_per_process": 1}, 4),  # a fork per try
        ({"memory_limit_mib": 4096}, 4),  # a per-try limit needs a process per try
    ],
)
def test_which_process_runs_each_try(
    engine: Engine, dag_file: str, make_local: MakeLocal, options: dict[str, int], processes: int
) -> None:
    executor = make_local(1, **options)
    tries = [queued_try(engine, dag_file, "ex", f"pid{i}") for i in range(4)]
    for wl in tries:
        executor.queue(wl)
    final, _ = collect_events(executor, 4)
    assert {e.state for e in final} == {"success"}
    pids = {xcom_text(engine, wl.dag_run_id, wl.task_id) for wl in tries}
    assert len(pids) == processes and str(ti_row(engine, tries[0].ti_id)["pid"]) not in pids


def test_a_busy_worker_claims_its_next_try_with_its_finish(
    engine: Engine, dag_file: str, make_local: MakeLocal
) -> None:
    """Issue 15: a try sent ahead is claimed in the transaction that finishes the previous one."""
    executor = make_local(1, send_ahead=True)
    wait_for(lambda: bool(executor.events() or True) and executor._workers[0].ready, what="a ready worker")
    run = insert_run(engine, "ex")
    ids = insert_task_instances(engine, run, "ex", [f"t{i}" for i in range(10)])
    for task_id, ti_id in ids.items():
        executor.queue(make_workload(ti_id, run, "ex", task_id, dag_file))
    assert executor.running_count == 1 and executor.queued_count == 9 and executor.open_slots == 0
    final, running = collect_events(executor, 10)
    assert {e.state for e in final} == {"success"} and len(running) == 10
    # Two commits a try without sending ahead (claim, finish); about one with it.
    assert executor.db_commits <= 15, executor.db_commits


def test_a_try_sent_ahead_is_handed_back_behind_a_long_one(
    engine: Engine, dag_file: str, tmp_path: Path, make_local: MakeLocal
) -> None:
    executor = make_local(1, send_ahead=True)
    assert executor.open_slots == 3  # one running, two sent ahead
    blocker = queued_try(engine, dag_file, "ex", "blocker", max_tries=1)
    after = [queued_try(engine, dag_file, "ex", f"t{i}") for i in range(2)]
    for workload in (blocker, *after):
        executor.queue(workload)
    _blocker_pid(tmp_path)
    worker = executor._workers[0]
    wait_for(lambda: bool(executor.events() or True) and not worker.follows, what="the hand-back")
    assert executor.queued_count == 2
    assert [ti_row(engine, w.ti_id)["state"] for w in after] == ["queued", "queued"]
    (tmp_path / "release").touch()
    final, _ = collect_events(executor, 3)
    assert [(e.task_id, e.state) for e in final] == [
        ("blocker", "success"),
        ("t0", "success"),
        ("t1", "success"),
    ]


def test_crashing_task_does_not_take_the_worker_down(
    engine: Engine, dag_file: str, make_local: MakeLocal
) -> None:
    executor = make_local(1)
    crash = queued_try(engine, dag_file, "ex", "crash")
    after = queued_try(engine, dag_file, "ex", "t0")
    executor.queue(crash)
    executor.queue(after)
    final, _ = collect_events(executor, 2)
    assert [(e.task_id, e.state) for e in final] == [("crash", "failed"), ("t0", "success")]
    assert "exited with code 3" in (final[0].error or "")
    assert ti_row(engine, crash.ti_id)["pid"] == ti_row(engine, after.ti_id)["pid"]


def test_dead_worker_is_replaced_and_its_try_recorded(
    engine: Engine, dag_file: str, tmp_path: Path, make_local: MakeLocal
) -> None:
    executor = make_local(1)
    blocked = queued_try(engine, dag_file, "ex", "blocker", max_tries=1)
    executor.queue(blocked)
    task_pid = _blocker_pid(tmp_path)
    worker_pid = ti_row(engine, blocked.ti_id)["pid"]
    os.kill(worker_pid, signal.SIGKILL)
    final, _ = collect_events(executor, 1)
    assert final[0].state == "up_for_retry"
    assert "worker process" in (final[0].error or "") and "signal 9" in (final[0].error or "")
    row = ti_row(engine, blocked.ti_id)
    assert row["state"] == "up_for_retry" and row["next_retry_at"] is not None
    wait_for(lambda: not _alive(task_pid), what="the orphaned task process to die with its worker")
    nxt = queued_try(engine, dag_file, "ex", "t1")
    executor.queue(nxt)
    assert collect_events(executor, 1)[0][0].state == "success"
    assert ti_row(engine, nxt.ti_id)["pid"] != worker_pid


def test_end_not_graceful_kills_running_tries(
    engine: Engine, dag_file: str, tmp_path: Path, make_local: MakeLocal
) -> None:
    executor = make_local(1)
    blocked = queued_try(engine, dag_file, "ex", "blocker")
    executor.queue(blocked)
    task_pid = _blocker_pid(tmp_path)
    started = time.monotonic()
    executor.end(graceful=False)
    assert time.monotonic() - started < 10
    events = [e for e in executor.events() if e.state != "running"]
    assert [e.state for e in events] == ["failed"]
    assert "the worker was stopped" in (ti_row(engine, blocked.ti_id)["error"] or "")
    assert not _alive(task_pid)


def test_wake_ends_a_wait_at_once(make_local: MakeLocal) -> None:
    executor = make_local(1)
    waker = threading.Thread(target=executor.wake)
    started = time.monotonic()
    waker.start()
    executor.wait(30.0)
    waker.join()
    assert time.monotonic() - started < 5


SCHEDULER_SCRIPT = """
import json, sys
from windvane.core.executors.base import Executor
from windvane.core.model.workload import TaskInstanceKey, Workload
from windvane.core.executors.local import LocalExecutor
url, logs, first, second = sys.argv[1:5]
executor = LocalExecutor(1, db_url=url, log_folder=logs)
executor.start()
for text in (first, second):
    fields = json.loads(text)
    executor.queue(Workload(**{**fields, 'key': TaskInstanceKey(**fields['key'])}))
while True:
    executor.wait(1.0)
    executor.events()
"""


def test_workers_finish_their_try_and_exit_when_the_scheduler_is_killed(
    engine: Engine, dag_file: str, tmp_path: Path
) -> None:
    blocked = queued_try(engine, dag_file, "ex", "blocker")
    waiting = queued_try(engine, dag_file, "ex", "t2")
    url = engine.url.render_as_string(hide_password=False)
    args = [json.dumps(_fields(w)) for w in (blocked, waiting)]
    scheduler = subprocess.Popen(
        [sys.executable, "-c", SCHEDULER_SCRIPT, url, str(tmp_path / "logs"), *args],
    )
    try:
        _blocker_pid(tmp_path)
        worker_pid = ti_row(engine, blocked.ti_id)["pid"]
        scheduler.kill()
        scheduler.wait()
        (tmp_path / "release").touch()
        wait_for(lambda: ti_row(engine, blocked.ti_id)["state"] == "success", what="the try to be recorded")
        wait_for(lambda: not _alive(worker_pid), what="the orphaned worker to exit")
        assert ti_row(engine, waiting.ti_id)["state"] == "queued"  # never started
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()


def test_sequential_executor_runs_in_wait(engine: Engine, dag_file: str, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    executor = SequentialExecutor(4, db_url=url, log_folder=str(tmp_path / "logs"))
    executor.start()
    try:
        assert executor.parallelism == 1
        for task_id in ("t0", "t1", "crash"):
            executor.queue(queued_try(engine, dag_file, "ex", task_id))
        assert executor.queued_count == 3
        final, running = collect_events(executor, 3)
        assert [(e.task_id, e.state) for e in final] == [
            ("t0", "success"),
            ("t1", "success"),
            ("crash", "failed"),
        ]
        assert len(running) == 3
    finally:
        executor.end()


def test_create_executor_by_name(tmp_path: Path) -> None:
    options = ExecutorOptions(
        parallelism=3, db_url="sqlite:///x.db", log_folder=str(tmp_path), heartbeat_seconds=1.0
    )
    local = create_executor("local", options)
    assert isinstance(local, LocalExecutor) and local.parallelism == 3
    assert isinstance(create_executor("sequential", options), SequentialExecutor)
    with pytest.raises(ConfigError, match="'local', 'sequential', 'celery'"):
        create_executor("kubernetes", options)


def _fields(wl: Workload) -> dict[str, object]:
    return dataclasses.asdict(wl)


def test_workers_start_on_demand_up_to_parallelism(
    engine: Engine, dag_file: str, make_local: MakeLocal
) -> None:
    executor = make_local(4)
    assert executor.worker_count == 2  # initial_workers: the rest start when work waits
    run = insert_run(engine, "ex")
    ids = insert_task_instances(engine, run, "ex", [f"t{i}" for i in range(16)])
    for task_id, ti_id in ids.items():
        executor.queue(make_workload(ti_id, run, "ex", task_id, dag_file))
    assert executor.worker_count == 2  # at most initial_workers start at a time
    final, _ = collect_events(executor, 16)
    assert {e.state for e in final} == {"success"}
    assert 2 < executor.worker_count <= 4  # grew while work waited, never beyond parallelism


# -- a stopping worker starts no try sent ahead (issue 15 hardening, defect 5) ---------------------
def test_a_graceful_end_finishes_the_running_try_and_starts_none_sent_ahead(
    engine: Engine, dag_file: str, tmp_path: Path, make_local: MakeLocal
) -> None:
    executor = make_local(1, send_ahead=True)
    blocker = queued_try(engine, dag_file, "ex", "blocker", max_tries=1)
    ahead = queued_try(engine, dag_file, "ex", "t0")
    executor.queue(blocker)
    _blocker_pid(tmp_path)
    executor.queue(ahead)  # sent ahead to the busy worker
    ending = threading.Thread(target=executor.end)  # graceful: sends the worker its stop
    ending.start()
    (tmp_path / "release").touch()  # the running try ends while the one sent ahead is held
    ending.join(timeout=60)
    assert not ending.is_alive()
    assert ti_row(engine, blocker.ti_id)["state"] == "success"  # the running try finished
    row = ti_row(engine, ahead.ti_id)
    assert (row["state"], row["try_number"], row["pid"]) == ("queued", ahead.try_number, None)


def _serve_in_thread(
    engine: Engine, tmp_path: Path, stop_after_finish: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, threading.Thread, local_worker._State]:
    """A worker's serving loop on a thread of this process, talking over a pipe; with
    ``stop_after_finish`` the worker is told to stop (SIGTERM's flag) right after the finish that
    claimed its next try, before that try starts: the window a real SIGTERM can fall into."""
    from multiprocessing import Pipe

    from windvane.core.store.raw import RawDb

    ours, theirs = Pipe()
    state = local_worker._State()
    state.executor_pid = os.getppid()
    config = local_worker.WorkerConfig(
        db_url=engine.url.render_as_string(hide_password=False),
        log_folder=str(tmp_path / "logs"),
        hostname="h",
        heartbeat_seconds=5.0,
        timeout_grace_seconds=1.0,
        kill_grace_seconds=1.0,
        executor_pid=os.getppid(),
        sys_path=tuple(sys.path),
        tries_per_process=1,
    )
    original = worker_inbox.Follow.next_try

    def next_try(self: worker_inbox.Follow, conn: Any) -> Any:
        found = original(self, conn)
        if stop_after_finish and found[1] is not None:
            state.stopping = True
        return found

    monkeypatch.setattr(worker_inbox.Follow, "next_try", next_try)
    db = RawDb(config.db_url)
    thread = threading.Thread(target=local_worker._serve, args=(theirs, db, config, state), daemon=True)
    return ours, thread, state


def test_a_worker_stopped_after_claiming_its_next_try_gives_it_back_unstarted(
    engine: Engine, dag_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = queued_try(engine, dag_file, "ex", "t0")
    ahead = queued_try(engine, dag_file, "ex", "t1")
    conn, thread, _state = _serve_in_thread(engine, tmp_path, True, monkeypatch)
    monkeypatch.setattr(runner, "FOLLOW_HOLD_SECONDS", 30.0)  # hold what was sent ahead
    conn.send(first)
    conn.send(ahead)  # read as the one sent ahead: claimed with first's finish
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the stopping worker did not return"
    messages = []
    with contextlib.suppress(EOFError):  # the worker's end is closed once its thread is done
        while conn.poll():
            messages.append(conn.recv())
    kinds = [m[0] for m in messages]
    assert kinds == ["running", "done", "returned"], kinds
    assert messages[1][1].state == "success" and messages[2][1] == ahead
    row = ti_row(engine, ahead.ti_id)
    # Given back as it was queued: another worker's claim (same try, same queuing job) takes it.
    assert (row["state"], row["try_number"], row["pid"], row["hostname"]) == ("queued", 1, None, None)
    assert row["queued_by_job_id"] == ahead.job_id


def test_the_executor_forgets_a_try_handed_back_after_the_finish_that_claimed_it() -> None:
    from collections import deque

    from windvane.core.executors import local

    workload = make_workload(1, 1, "ex", "t0", "/dags/ex.py")
    other = make_workload(2, 1, "ex", "t1", "/dags/ex.py")
    assert local._same_try(workload, workload) and not local._same_try(workload, other)
    assert not local._same_try(None, workload)
    follows = deque([workload, other])
    local._drop(follows, workload)
    assert list(follows) == [other]
