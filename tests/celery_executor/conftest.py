"""Fixtures of the Celery executor's tests: a broker per test, worker processes (see workers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.celery_executor.workers import Broker, WorkerProcess, make_broker

StartWorker = Callable[..., list[WorkerProcess]]


@pytest.fixture(scope="class", params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """Redis (its own database numbers) and RabbitMQ, each with a queue of this test class's own."""
    made = make_broker(request.param)
    yield made
    made.cleanup()


@pytest.fixture
def db_backend() -> str:
    """The workers are separate processes on this machine: SQLite (WAL) is shared as well."""
    return "sqlite"


@pytest.fixture
def worker_db_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def start_worker(broker: Broker, worker_db_url: str, tmp_path: Path) -> Iterator[StartWorker]:
    """Start ``count`` ``windvane celery worker`` processes at once; returns them ready (stopped after
    the test)."""
    started: list[WorkerProcess] = []

    def start(count: int = 1, **kwargs: Any) -> list[WorkerProcess]:
        new = [
            WorkerProcess(broker, db_url=worker_db_url, home=tmp_path / "home", **kwargs)
            for _ in range(count)
        ]
        started.extend(new)
        return [worker.wait_ready() for worker in new]

    yield start
    for worker in started:
        worker.stop()
