"""Every executor passes the executor contract (windvane.testing.executor_contract).

The checks run on SQLite only: they are about the executor, and each costs a start and an end
of it (worker processes for LocalExecutor). The workers' SQL runs on both databases in
test_local_executor.py and test_task_runner.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from windvane.core.executors.base import Executor
from windvane.core.executors.local import LocalExecutor
from windvane.core.executors.sequential import SequentialExecutor
from windvane.core.model.clock import FakeClock
from windvane.testing import InstantExecutor, ScriptedExecutor
from windvane.testing.contract_dag import contract_outcome, contract_step
from windvane.testing.executor_contract import ExecutorContract, ExecutorFactory

_NO_TASK_CODE = {
    "task_code": "a test double: it decides outcomes without importing the DAG file",
    "error_text": "a test double: no task raises, so there is no exception text to report",
    "kill_running": "a test double: a try starts and ends within one events() call",
}


class OnSqlite:
    """Mixin: the inherited ``engine`` fixture on SQLite only."""

    @pytest.fixture
    def db_backend(self) -> str:
        return "sqlite"


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


class TestLocalExecutor(OnSqlite, ExecutorContract):
    @pytest.fixture
    def make_executor(self, engine: Engine, tmp_path: Path) -> ExecutorFactory:
        def make(parallelism: int) -> Executor:
            return LocalExecutor(
                parallelism,
                db_url=_url(engine),
                log_folder=str(tmp_path / "logs"),
                kill_grace_seconds=1.0,
                initial_workers=1,
                # The contract's plain room (open_slots == parallelism); sending ahead, on by
                # default, offers 3x (tests/runtime/test_local_executor.py). Try hosts stay on.
                send_ahead=False,
            )

        return make


class TestSequentialExecutor(OnSqlite, ExecutorContract):
    skipped_checks = {"kill_running": "it runs each try to its end inside wait(), in the caller's thread"}

    @pytest.fixture
    def make_executor(self, engine: Engine, tmp_path: Path) -> ExecutorFactory:
        def make(parallelism: int) -> Executor:
            return SequentialExecutor(parallelism, db_url=_url(engine), log_folder=str(tmp_path / "logs"))

        return make


class TestInstantExecutor(OnSqlite, ExecutorContract):
    skipped_checks = {**_NO_TASK_CODE, "running_event": "a try starts and ends in the same instant"}

    @pytest.fixture
    def make_executor(self, engine: Engine) -> ExecutorFactory:
        return lambda parallelism: InstantExecutor(parallelism, engine=engine, outcome=contract_outcome)


class TestScriptedExecutor(OnSqlite, ExecutorContract):
    skipped_checks = _NO_TASK_CODE

    @pytest.fixture
    def make_executor(self, engine: Engine) -> ExecutorFactory:
        clock = FakeClock()
        return lambda parallelism: ScriptedExecutor(
            parallelism, engine=engine, clock=clock, script=contract_step
        )
