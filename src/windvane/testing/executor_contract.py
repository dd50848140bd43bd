"""The executor contract as a reusable test class: what every executor must do for the scheduler.

Subclass :class:`ExecutorContract` in a test module (name the subclass
``Test...``; the base is not collected) and provide the ``make_executor``
fixture, which returns a factory ``parallelism -> Executor`` (not started).
It may use the ``engine`` fixture (from :mod:`windvane.testing.fixtures`, so
both backends) and ``contract_dags_folder``, where the contract DAG
(:mod:`windvane.testing.contract_dag`) is written::

    class TestLocalExecutor(ExecutorContract):
        @pytest.fixture
        def make_executor(self, engine: Engine, tmp_path: Path) -> ExecutorFactory:
            url = engine.url.render_as_string(hide_password=False)
            return lambda n: LocalExecutor(n, db_url=url, log_folder=str(tmp_path / "logs"))

The checks: ``open_slots`` honours ``parallelism``; a queued try ends with its
final state written to the database, reported after a ``running`` event; a try
whose row changed before the claim is reported with ``state=None`` and does not
run; a failing task ends ``failed``, or ``up_for_retry`` with tries left;
``wake()`` ends a blocked ``wait()`` promptly; ``end()`` leaves nothing running
and may be called again. An executor that cannot pass an optional check names
it in :attr:`ExecutorContract.skipped_checks` with the reason; the check is then
reported as skipped, never passed silently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar, TypeVar

import pytest
from sqlalchemy import Engine, update

from windvane.core.executors.base import Executor
from windvane.core.model.workload import TaskEvent
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import task_instance
from windvane.testing.contract_dag import DAG_ID, FAILURE, OK_TASKS, write_contract_dag
from windvane.testing.rows import ti_row, xcom_text
from windvane.testing.waiting import collect_events, wait_for
from windvane.testing.workloads import queued_try

#: Builds a new executor, not started, with the given parallelism.
ExecutorFactory = Callable[[int], Executor]
#: Checks an executor may declare it cannot pass, with what each needs.
OPTIONAL_CHECKS: Mapping[str, str] = {
    "running_event": "report a 'running' event when a try starts",
    "task_code": "run the task's code (markers, XComs, pid)",
    "error_text": "report the task's exception in the event and the row",
    "kill_running": "run tries while the caller is not in wait(), and kill them on end(graceful=False)",
}
FINAL_STATES = frozenset({"success", "failed", "up_for_retry", "skipped"})
#: Seconds a blocked wait() may take to notice wake().
WAKE_WITHIN_SECONDS = 5.0
_T = TypeVar("_T", bound=Callable[..., None])


def optional(check: str) -> Callable[[_T], _T]:
    """Mark a check as needing ``check`` (a key of :data:`OPTIONAL_CHECKS`)."""
    if check not in OPTIONAL_CHECKS:
        raise ValueError(f"unknown optional check {check!r}")

    def mark(method: _T) -> _T:
        method.optional_check = check  # type: ignore[attr-defined]
        return method

    return mark


class ExecutorContract:
    """Checks every executor must pass; see the module doc for how to use it."""

    #: Optional checks (keys of :data:`OPTIONAL_CHECKS`) this executor does not pass, with why.
    skipped_checks: ClassVar[Mapping[str, str]] = {}
    #: The parallelism the checks ask for (an executor may cap it: the checks read it back).
    parallelism: ClassVar[int] = 2

    # -- fixtures ---------------------------------------------------------------------------
    @pytest.fixture
    def make_executor(self) -> ExecutorFactory:
        """Override: a factory ``parallelism -> Executor`` (not started)."""
        pytest.fail(f"{type(self).__name__} must define the make_executor fixture")

    @pytest.fixture
    def contract_markers(self, tmp_path: Path) -> Path:
        """Where the contract DAG's tasks leave a marker file ``<task_id>.<try>`` when they run."""
        return tmp_path / "markers"

    @pytest.fixture
    def contract_dags_folder(self, tmp_path: Path, contract_markers: Path) -> Path:
        """A DAGs folder holding the contract DAG."""
        folder = tmp_path / "dags"
        write_contract_dag(folder, contract_markers)
        return folder

    @pytest.fixture
    def contract_dag_file(self, contract_dags_folder: Path) -> str:
        return str(next(contract_dags_folder.glob("*.py")))

    @pytest.fixture
    def started(self, request: pytest.FixtureRequest, make_executor: ExecutorFactory) -> Iterator[Executor]:
        """The executor under test, started, with :attr:`parallelism`; ended after the check.

        A check marked :func:`optional` that this executor declares in
        :attr:`skipped_checks` is skipped here, before the executor is built.
        """
        check = getattr(request.function, "optional_check", None)
        if check is not None:
            self.skip_if_declared(check)
        executor = make_executor(self.parallelism)
        executor.start()
        yield executor
        executor.end(graceful=False)

    def skip_if_declared(self, check: str) -> None:
        """Skip the running check if this executor declares it cannot pass ``check``."""
        if check in self.skipped_checks:
            pytest.skip(
                f"{type(self).__name__} does not {OPTIONAL_CHECKS[check]}: {self.skipped_checks[check]}"
            )

    # -- checks -----------------------------------------------------------------------------
    def test_skipped_checks_are_known_and_explained(self) -> None:
        unknown = set(self.skipped_checks) - set(OPTIONAL_CHECKS)
        assert not unknown, f"not optional checks: {sorted(unknown)}; optional: {sorted(OPTIONAL_CHECKS)}"
        assert all(reason.strip() for reason in self.skipped_checks.values())

    def test_open_slots_honour_parallelism(
        self, started: Executor, engine: Engine, contract_dag_file: str
    ) -> None:
        limit = started.parallelism
        assert 1 <= limit <= self.parallelism and started.open_slots == limit
        tries = [queued_try(engine, contract_dag_file, DAG_ID, task_id) for task_id in OK_TASKS[:limit]]
        for workload in tries:
            started.queue(workload)
        assert started.open_slots == 0
        assert started.queued_count + started.running_count == limit
        final, _ = collect_events(started, limit)
        assert sorted(e.task_id for e in final) == sorted(w.task_id for w in tries)
        assert {e.state for e in final} == {"success"}
        assert (started.queued_count, started.running_count, started.open_slots) == (0, 0, limit)

    def test_queued_try_ends_with_its_state_in_the_database(
        self, started: Executor, engine: Engine, contract_dag_file: str
    ) -> None:
        workload = queued_try(engine, contract_dag_file, DAG_ID, "ok0")
        started.queue(workload)
        (event,), _ = collect_events(started, 1)
        assert (event.key, event.try_number, event.state) == (workload.key, 1, "success")
        row = ti_row(engine, workload.ti_id)
        assert row["state"] == "success" and row["end_date"] is not None

    @optional("running_event")
    def test_running_event_comes_first(
        self, started: Executor, engine: Engine, contract_dag_file: str
    ) -> None:
        workload = queued_try(engine, contract_dag_file, DAG_ID, "ok0")
        started.queue(workload)
        events = _in_order(started, 1)
        assert [(e.key, e.state) for e in events] == [(workload.key, "running"), (workload.key, "success")]

    @optional("task_code")
    def test_task_code_runs_once(
        self, started: Executor, engine: Engine, contract_dag_file: str, contract_markers: Path
    ) -> None:
        workload = queued_try(engine, contract_dag_file, DAG_ID, "ok0")
        started.queue(workload)
        collect_events(started, 1)
        assert sorted(p.name for p in contract_markers.iterdir()) == ["ok0.1"]
        assert xcom_text(engine, workload.dag_run_id, "ok0") == '"ok"'
        assert ti_row(engine, workload.ti_id)["pid"] is not None

    def test_failed_claim_reports_none_and_does_not_run(
        self, started: Executor, engine: Engine, contract_dag_file: str, contract_markers: Path
    ) -> None:
        workload = queued_try(engine, contract_dag_file, DAG_ID, "ok1")
        with begin_write(engine) as conn:  # cleared by someone else before any worker claimed it
            conn.execute(
                update(task_instance).where(task_instance.c.id == workload.ti_id).values(state="scheduled")
            )
        started.queue(workload)
        (event,), running = collect_events(started, 1)
        assert (event.key, event.state, running) == (workload.key, None, [])
        row = ti_row(engine, workload.ti_id)
        assert (row["state"], row["start_date"], row["end_date"]) == ("scheduled", None, None)
        assert xcom_text(engine, workload.dag_run_id, "ok1") is None
        assert not list(contract_markers.glob("ok1.*"))

    def test_failing_task_fails(self, started: Executor, engine: Engine, contract_dag_file: str) -> None:
        workload = queued_try(engine, contract_dag_file, DAG_ID, "fail")
        started.queue(workload)
        (event,), _ = collect_events(started, 1)
        assert (event.key, event.state) == (workload.key, "failed")
        assert ti_row(engine, workload.ti_id)["state"] == "failed"

    def test_failing_task_with_tries_left_is_up_for_retry(
        self, started: Executor, engine: Engine, contract_dag_file: str
    ) -> None:
        workload = queued_try(engine, contract_dag_file, DAG_ID, "flaky", max_tries=1)
        started.queue(workload)
        (event,), _ = collect_events(started, 1)
        assert (event.state, event.next_retry_at is not None) == ("up_for_retry", True)
        row = ti_row(engine, workload.ti_id)
        assert row["state"] == "up_for_retry" and row["next_retry_at"] is not None

    @optional("error_text")
    def test_failure_error_is_reported(
        self, started: Executor, engine: Engine, contract_dag_file: str
    ) -> None:
        workload = queued_try(engine, contract_dag_file, DAG_ID, "fail")
        started.queue(workload)
        (event,), _ = collect_events(started, 1)
        assert FAILURE in (event.error or "")
        assert FAILURE in (ti_row(engine, workload.ti_id)["error"] or "")

    def test_wake_ends_a_blocked_wait(self, started: Executor) -> None:
        waiter = threading.Thread(target=started.wait, args=(60.0,), daemon=True)
        began = time.monotonic()
        waiter.start()
        # wake() is for a wait() already blocked; calling it until the waiter returns covers both
        # orders without guessing when the thread got there.
        while waiter.is_alive() and time.monotonic() - began < WAKE_WITHIN_SECONDS:
            started.wake()
            waiter.join(0.05)
        assert not waiter.is_alive(), f"wait(60) still blocked {WAKE_WITHIN_SECONDS} s after wake()"

    def test_end_leaves_nothing_running(
        self, started: Executor, engine: Engine, contract_dag_file: str
    ) -> None:
        tries = [queued_try(engine, contract_dag_file, DAG_ID, task_id) for task_id in OK_TASKS[:2]]
        for workload in tries:
            started.queue(workload)
        started.end(graceful=True)
        assert started.running_count == 0
        for workload in tries:  # never started (still queued) or finished: nothing half done
            assert ti_row(engine, workload.ti_id)["state"] in FINAL_STATES | {"queued"}
        started.end(graceful=True)  # a second end() does nothing

    @optional("kill_running")
    def test_end_not_graceful_stops_a_running_try(
        self, started: Executor, engine: Engine, contract_dag_file: str, contract_markers: Path
    ) -> None:
        workload = queued_try(engine, contract_dag_file, DAG_ID, "block")
        started.queue(workload)
        wait_for(lambda: (contract_markers / "block.1").exists(), what="the blocking task to start")
        began = time.monotonic()
        started.end(graceful=False)
        assert time.monotonic() - began < 15 and started.running_count == 0
        assert ti_row(engine, workload.ti_id)["state"] == "failed"


def _in_order(executor: Executor, count: int, *, timeout: float = 20.0) -> list[TaskEvent]:
    """Every event until ``count`` final ones, in arrival order."""
    events: list[TaskEvent] = []
    deadline = time.monotonic() + timeout
    while sum(e.state != "running" for e in events) < count:
        assert time.monotonic() < deadline, f"only these events in {timeout} s: {events}"
        executor.wait(1.0)
        events += executor.events()
    return events
