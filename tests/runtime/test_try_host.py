"""Try hosts ([executor] tries_per_process > 1): several tries of one DAG file in one forked
process, each as isolated from the next as the host can check, each supervised as a forked try."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from windvane.core.executors.local_worker import WorkerConfig, uses_try_hosts
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.raw import RawDb
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.runner import log_path_for, run_workload
from windvane.core.worker.try_host import TryHosts
from windvane.testing import queued_try, ti_row, write_dag_file, xcom_text
from windvane.testing.rows import LOGICAL_DATE, insert_run, insert_task_instances
from windvane.testing.workloads import make_workload

DAG_SOURCE = """
import os, signal, subprocess, sys, threading, time
from datetime import datetime, timezone
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import PythonOperator

def pid():
    print("pid", os.getpid())
    return os.getpid()

def rendered(templates_dict):
    return [os.getpid(), templates_dict["run"]]

def crash():
    os._exit(3)

def stubborn():
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(0.05)

def leave_thread():
    threading.Thread(target=time.sleep, args=(3,), daemon=True).start()
    return os.getpid()

def leave_process():
    return [os.getpid(), subprocess.Popen(["sleep", "30"]).pid]

def leave_session():  # a process in a session of its own: the host's session sweep misses it
    return [os.getpid(), subprocess.Popen(["sleep", "30"], start_new_session=True).pid]

COUNTER = 0

def bump_global():
    global COUNTER
    COUNTER += 1
    return [os.getpid(), COUNTER]

_CACHE = {}

def cache_in_dict():  # how to cache across tries and keep the host (docs/scaling.md)
    _CACHE["n"] = _CACHE.get("n", 0) + 1
    return [os.getpid(), _CACHE["n"]]

def set_env():
    os.environ["WINDVANE_TEST_LEAK"] = "1"
    return os.getpid()

def take_over():  # another worker took the task instance (its try number moved on)
    import sqlalchemy as sa
    engine = sa.create_engine(os.environ["WINDVANE_TEST_DB_URL"])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE task_instance SET try_number = try_number + 1 WHERE task_id = 'taken'"))
    engine.dispose()

def mark(context):
    with open(os.environ["WINDVANE_TEST_MARK"], "a") as out:
        out.write(context["ti"].task_id + ";")

class Counting(BaseOperator):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.count = 0

    def execute(self, context):
        self.count += 1
        return [os.getpid(), self.count]

with DAG("th", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    for i in range(6):
        PythonOperator(task_id=f"p{i}", python_callable=pid)
    PythonOperator(task_id="rendered", python_callable=rendered, templates_dict={"run": "{{ run_id }}"})
    Counting(task_id="counting")
    PythonOperator(task_id="crash", python_callable=crash)
    PythonOperator(task_id="stubborn", python_callable=stubborn, execution_timeout=0.2)
    PythonOperator(task_id="leave_thread", python_callable=leave_thread)
    PythonOperator(task_id="leave_process", python_callable=leave_process)
    PythonOperator(task_id="leave_session", python_callable=leave_session)
    PythonOperator(task_id="set_env", python_callable=set_env)
    PythonOperator(task_id="cache0", python_callable=cache_in_dict)
    PythonOperator(task_id="cache1", python_callable=cache_in_dict)
    PythonOperator(task_id="bump0", python_callable=bump_global)
    PythonOperator(task_id="bump1", python_callable=bump_global)
    PythonOperator(task_id="alone", python_callable=pid, isolated=True)
    PythonOperator(task_id="taken", python_callable=take_over, on_success_callback=mark)
    PythonOperator(task_id="kept", python_callable=pid, on_success_callback=mark)
"""


@pytest.fixture
def dag_file(tmp_path: Path) -> str:
    return write_dag_file(tmp_path, DAG_SOURCE)


class Worker:
    """A worker's loader, database and try hosts, as LocalExecutor workers hold them."""

    def __init__(self, engine: Engine, logs: str, tries_per_process: int) -> None:
        self.engine = engine
        self.logs = logs
        self.loader = DagLoader()
        self.db = RawDb(engine.url.render_as_string(hide_password=False))
        self.hosts = TryHosts(self.loader, tries_per_process=tries_per_process, kill_grace=0.5)

    def run(self, workload: Workload, **kwargs: float) -> TaskEvent:
        return run_workload(
            workload,
            db=self.db,
            loader=self.loader,
            log_folder=self.logs,
            hostname="host-1",
            hosts=self.hosts,
            **kwargs,  # type: ignore[arg-type]
        )

    def returned(self, workload: Workload) -> Any:
        text = xcom_text(self.engine, workload.dag_run_id, workload.task_id)
        assert text is not None, f"{workload.task_id} returned nothing"
        return json.loads(text)

    def close(self) -> None:
        self.hosts.close()
        self.db.close()


MakeWorker = Callable[[int], Worker]


@pytest.fixture
def make_worker(engine: Engine, tmp_path: Path) -> Iterator[MakeWorker]:
    made: list[Worker] = []

    def make(tries_per_process: int = 10) -> Worker:
        worker = Worker(engine, str(tmp_path / "logs"), tries_per_process)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()


def test_tries_share_one_host_each_with_its_own_log(
    engine: Engine, dag_file: str, make_worker: MakeWorker
) -> None:
    worker = make_worker(10)
    tries = [queued_try(engine, dag_file, "th", f"p{i}") for i in range(3)]
    pids = []
    for wl in tries:
        assert worker.run(wl).state == "success", ti_row(engine, wl.ti_id)["error"]
        pids.append(worker.returned(wl))
    assert len(set(pids)) == 1 and pids[0] != os.getpid()
    assert worker.hosts.forks == 1 and worker.hosts.host_pid == pids[0]
    for wl in tries:
        text = Path(log_path_for(worker.logs, wl)).read_text()
        assert f"p{wl.task_id[1:]}" in text and text.count("Try 1 ended: success") == 1


def test_a_host_runs_at_most_tries_per_process(
    engine: Engine, dag_file: str, make_worker: MakeWorker
) -> None:
    worker = make_worker(2)
    pids = []
    for i in range(5):
        wl = queued_try(engine, dag_file, "th", f"p{i}")
        assert worker.run(wl).state == "success"
        pids.append(worker.returned(wl))
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert worker.hosts.forks == 3


def test_each_try_renders_and_mutates_its_own_copy_of_the_task(
    engine: Engine, dag_file: str, make_worker: MakeWorker
) -> None:
    worker = make_worker(10)
    results = []
    for n, run_id in enumerate(("first_run", "second_run")):
        run = insert_run(engine, "th", run_id, logical_date=LOGICAL_DATE + timedelta(days=n))
        ids = insert_task_instances(engine, run, "th", ["rendered", "counting"], run_id=run_id)
        for task_id in ("rendered", "counting"):
            wl = make_workload(ids[task_id], run, "th", task_id, dag_file, run_id=run_id)
            assert worker.run(wl).state == "success", ti_row(engine, wl.ti_id)["error"]
            results.append(worker.returned(wl))
    (p1, r1), (p2, c1), (p3, r2), (p4, c2) = results
    assert p1 == p2 == p3 == p4  # one host
    assert (r1, r2) == ("first_run", "second_run")  # rendered afresh, not the first run's value
    assert c1 == c2 == 1  # ``self.count += 1`` did not reach the next try


def test_a_crashing_try_fails_alone_and_the_next_gets_a_new_host(
    engine: Engine, dag_file: str, make_worker: MakeWorker
) -> None:
    worker = make_worker(10)
    first = queued_try(engine, dag_file, "th", "p0")
    assert worker.run(first).state == "success"
    crash = queued_try(engine, dag_file, "th", "crash")
    assert worker.run(crash).state == "failed"
    assert "exited with code 3" in ti_row(engine, crash.ti_id)["error"]
    after = queued_try(engine, dag_file, "th", "p1")
    assert worker.run(after).state == "success"
    assert worker.returned(after) != worker.returned(first)
    assert worker.hosts.forks == 2


def test_a_try_past_its_timeout_is_killed_with_its_host(
    engine: Engine, dag_file: str, make_worker: MakeWorker
) -> None:
    worker = make_worker(10)
    wl = queued_try(engine, dag_file, "th", "stubborn")
    event = worker.run(wl, timeout_grace_seconds=0.2, kill_grace_seconds=0.2)
    assert event.state == "failed"
    assert "timed out" in ti_row(engine, wl.ti_id)["error"]
    after = queued_try(engine, dag_file, "th", "p0")
    assert worker.run(after).state == "success"
    assert worker.hosts.forks == 2


@pytest.mark.parametrize("task_id", ["leave_thread", "set_env"])
def test_a_try_that_leaves_a_trace_retires_its_host(
    engine: Engine, dag_file: str, make_worker: MakeWorker, task_id: str
) -> None:
    worker = make_worker(10)
    wl = queued_try(engine, dag_file, "th", task_id)
    assert worker.run(wl).state == "success"
    assert worker.hosts.host_pid is None  # retired right after reporting
    after = queued_try(engine, dag_file, "th", "p0")
    assert worker.run(after).state == "success"
    assert worker.returned(after) != worker.returned(wl)
    assert "WINDVANE_TEST_LEAK" not in os.environ


def test_a_try_that_rebinds_a_global_of_its_dag_file_retires_its_host(
    engine: Engine, dag_file: str, make_worker: MakeWorker
) -> None:
    worker = make_worker(10)
    first, second = (queued_try(engine, dag_file, "th", f"bump{i}") for i in range(2))
    assert worker.run(first).state == "success"
    assert worker.hosts.host_pid is None  # ``global COUNTER; COUNTER += 1`` retired it
    assert worker.run(second).state == "success"
    (pid1, count1), (pid2, count2) = worker.returned(first), worker.returned(second)
    assert pid1 != pid2 and count1 == count2 == 1  # the second try saw the file's own COUNTER


def test_an_isolated_task_runs_in_a_fork_of_its_own(
    engine: Engine, dag_file: str, make_worker: MakeWorker
) -> None:
    worker = make_worker(10)
    hosted = queued_try(engine, dag_file, "th", "p0")
    assert worker.run(hosted).state == "success"
    alone = queued_try(engine, dag_file, "th", "alone")
    assert worker.run(alone).state == "success"
    assert worker.returned(alone) not in (worker.returned(hosted), os.getpid())
    assert worker.hosts.tries == 1 and worker.hosts.host_pid == worker.returned(hosted)


def test_a_hosted_try_that_lost_its_task_instance_runs_no_end_callbacks(
    engine: Engine, dag_file: str, make_worker: MakeWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A late try (its worker cut off past the heartbeat timeout, the task instance retried) must
    # not run its callbacks beside the retry's: a hosted try asks the database, as a forked one does.
    monkeypatch.setenv("WINDVANE_TEST_DB_URL", engine.url.render_as_string(hide_password=False))
    marks = tmp_path / "callbacks"
    monkeypatch.setenv("WINDVANE_TEST_MARK", str(marks))
    worker = make_worker(10)
    worker.run(queued_try(engine, dag_file, "th", "taken"))
    assert worker.run(queued_try(engine, dag_file, "th", "kept")).state == "success"
    assert worker.hosts.tries == 2  # both ran in the host
    assert marks.read_text() == "kept;"


@pytest.mark.parametrize("task_id", ["leave_process", "leave_session"])
def test_a_process_a_try_left_running_is_ended_with_the_host(
    engine: Engine, dag_file: str, make_worker: MakeWorker, task_id: str
) -> None:
    # The retiring host ends its descendants itself (it is their subreaper): a process in a
    # session of its own used to outlive it, adopted by the worker, which left it running.
    worker = make_worker(10)
    wl = queued_try(engine, dag_file, "th", task_id)
    assert worker.run(wl).state == "success"
    _, sleeper = worker.returned(wl)
    assert worker.hosts.host_pid is None
    deadline = time.monotonic() + 10
    while _alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(sleeper)


def test_a_changed_dag_file_gets_a_new_host(engine: Engine, dag_file: str, make_worker: MakeWorker) -> None:
    worker = make_worker(10)
    first = queued_try(engine, dag_file, "th", "p0")
    assert worker.run(first).state == "success"
    Path(dag_file).write_text(DAG_SOURCE + "\n# changed\n")
    after = queued_try(engine, dag_file, "th", "p1")
    assert worker.run(after).state == "success"
    assert worker.returned(after) != worker.returned(first)
    assert worker.hosts.forks == 2


def test_tries_per_process_must_be_at_least_two() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        TryHosts(DagLoader(), tries_per_process=1)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("changes", "hosted"),
    [
        ({}, True),  # the default
        ({"tries_per_process": 1}, False),
        ({"memory_limit_mib": 64}, False),
        ({"process_containment": "cgroup"}, False),
        ({"process_containment": "auto"}, True),
        ({"process_containment": "subreaper"}, True),
    ],
)
def test_which_worker_configurations_use_try_hosts(changes: dict[str, Any], hosted: bool) -> None:
    config = WorkerConfig(
        db_url="sqlite://",
        log_folder="logs",
        hostname="h",
        heartbeat_seconds=5.0,
        timeout_grace_seconds=5.0,
        kill_grace_seconds=5.0,
        executor_pid=0,
        sys_path=(),
    )
    assert uses_try_hosts(dataclasses.replace(config, **changes)) is hosted


# -- retirements made visible (issue 15 hardening, defect 6) ---------------------------------------
@pytest.mark.parametrize(
    ("task_id", "reason"),
    [("leave_thread", "thread_left"), ("set_env", "environ_changed"), ("leave_process", "process_left")],
)
def test_each_retirement_is_counted_by_its_reason(
    engine: Engine, dag_file: str, make_worker: MakeWorker, task_id: str, reason: str
) -> None:
    worker = make_worker(10)
    assert worker.run(queued_try(engine, dag_file, "th", task_id)).state == "success"
    assert worker.hosts.take_retirements() == {reason: 1}
    assert worker.hosts.take_retirements() == {}  # taken once


def test_a_rebound_global_is_counted_and_logged_once_per_file_naming_it(
    engine: Engine, dag_file: str, make_worker: MakeWorker, caplog: pytest.LogCaptureFixture
) -> None:
    worker = make_worker(10)
    caplog.set_level("WARNING", logger="windvane.core.worker.try_host")
    for i in range(2):
        assert worker.run(queued_try(engine, dag_file, "th", f"bump{i}")).state == "success"
    assert worker.hosts.take_retirements() == {"globals_changed": 2}
    warnings = [r.getMessage() for r in caplog.records if "try host retired" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once per file, not once per try
    assert dag_file in warnings[0] and "COUNTER" in warnings[0] and "globals_changed" in warnings[0]


def test_a_cache_in_a_dict_bound_at_import_keeps_the_host(
    engine: Engine, dag_file: str, make_worker: MakeWorker
) -> None:
    worker = make_worker(10)
    first, second = (queued_try(engine, dag_file, "th", f"cache{i}") for i in range(2))
    assert worker.run(first).state == "success" and worker.run(second).state == "success"
    (pid1, n1), (pid2, n2) = worker.returned(first), worker.returned(second)
    assert pid1 == pid2 and (n1, n2) == (1, 2)  # one host, the cache shared
    assert worker.hosts.forks == 1 and worker.hosts.take_retirements() == {}


def test_quota_and_file_changes_are_counted_as_routine(
    engine: Engine, dag_file: str, make_worker: MakeWorker
) -> None:
    worker = make_worker(2)
    for i in range(2):
        assert worker.run(queued_try(engine, dag_file, "th", f"p{i}")).state == "success"
    assert worker.hosts.take_retirements() == {"quota": 1}
    assert worker.run(queued_try(engine, dag_file, "th", "p2")).state == "success"
    Path(dag_file).write_text(DAG_SOURCE + "\n# changed\n")
    assert worker.run(queued_try(engine, dag_file, "th", "p3")).state == "success"
    assert worker.hosts.take_retirements() == {"file_changed": 1}


def test_a_local_executor_reports_its_workers_retirements(
    engine: Engine, dag_file: str, tmp_path: Path
) -> None:
    from windvane.core.executors.local import LocalExecutor
    from windvane.testing.waiting import collect_events

    url = engine.url.render_as_string(hide_password=False)
    executor = LocalExecutor(1, db_url=url, log_folder=str(tmp_path / "logs"), heartbeat_seconds=0.5)
    executor.start()
    try:
        for i in range(2):
            executor.queue(queued_try(engine, dag_file, "th", f"bump{i}"))
        done, _ = collect_events(executor, 2, timeout=60)
        assert [e.state for e in done] == ["success", "success"]
        assert executor.take_try_host_retirements() == {"globals_changed": 2}
        assert executor.take_try_host_retirements() == {}
    finally:
        executor.end(graceful=False)


def test_the_metric_knows_every_retirement_reason() -> None:
    from windvane.core.worker.try_host_loop import RETIREMENT_REASONS
    from windvane.metrics.catalogue import TRY_HOST_RETIREMENTS

    assert TRY_HOST_RETIREMENTS.values_of("reason") == RETIREMENT_REASONS
