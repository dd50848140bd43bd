"""The Celery executor passes the executor contract, on Redis and on RabbitMQ, with a real worker process.

One worker process per broker serves every check of the class (a worker costs
seconds to start); the checks share one SQLite database, emptied after each.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.celery_executor.workers import Broker, WorkerProcess
from windvane.celery.executor import CeleryExecutor
from windvane.core.executors.base import Executor
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import metadata
from windvane.testing.database import SqliteTemplate
from windvane.testing.executor_contract import ExecutorContract, ExecutorFactory


@pytest.fixture(scope="class")
def shared_engine(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: SqliteTemplate
) -> Iterator[Engine]:
    """One database for every check of the class (its worker process keeps a connection to it)."""
    engine = sqlite_template.engine(tmp_path_factory.mktemp("celery_contract_db"))
    yield engine
    engine.dispose()


@pytest.fixture(scope="class")
def worker(
    broker: Broker, shared_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    url = shared_engine.url.render_as_string(hide_password=False)
    started = WorkerProcess(broker, db_url=url, home=tmp_path_factory.mktemp("celery_worker"))
    yield started.wait_ready()
    started.stop()


class TestCeleryExecutor(ExecutorContract):
    skipped_checks = {
        "kill_running": "tries run on Celery workers the executor does not own; end() leaves them to finish",
    }

    @pytest.fixture
    def engine(self, shared_engine: Engine) -> Iterator[Engine]:
        yield shared_engine
        with begin_write(shared_engine) as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name != "slot_pool":
                    conn.execute(table.delete())

    @pytest.fixture
    def make_executor(self, broker: Broker, shared_engine: Engine, worker: WorkerProcess) -> ExecutorFactory:
        url = shared_engine.url.render_as_string(hide_password=False)

        def make(parallelism: int) -> Executor:
            return CeleryExecutor(parallelism, config=broker.config(), db_url=url)

        return make
