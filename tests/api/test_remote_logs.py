"""The log endpoint fetches a try's log from the worker that ran it when it is not in the API's own
log folder (a Celery worker's log server; docs/scaling.md, "Task logs")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from windvane.api.app import create_app
from windvane.api.config import ApiConfig
from windvane.api.users import Role
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import task_instance
from windvane.tasklogs.files import log_path
from windvane.tasklogs.remote import RemoteLogs
from windvane.tasklogs.server import LogServer

V1 = "/api/v1"
SECRET = "shared-with-the-workers"


@pytest.fixture
def worker_logs(tmp_path: Path) -> Iterator[LogServer]:
    folder = tmp_path / "worker-logs"
    path = log_path(folder, "etl", "r1", "extract", 1)
    path.parent.mkdir(parents=True)
    path.write_text("ran on the worker\n")
    server = LogServer(folder, secret=SECRET, host="127.0.0.1", port=0).start()
    yield server
    server.stop()


@pytest.fixture
def app(engine: Engine, log_folder: Path, worker_logs: LogServer) -> FastAPI:
    config = ApiConfig(secret_key="test-key", log_folder=log_folder,
                       remote_logs=RemoteLogs(port=worker_logs.port, secret=SECRET))  # fmt: skip
    return create_app(engine, config)


def test_a_log_on_a_worker_is_fetched_from_it(
    client: Callable[[Role], TestClient], example_dag: str, engine: Engine
) -> None:
    viewer = client(Role.VIEWER)
    client(Role.OPERATOR).post(f"{V1}/dags/etl/dagRuns", json={"run_id": "r1"})
    url = f"{V1}/dags/etl/dagRuns/r1/taskInstances/extract/logs/1"
    assert viewer.get(url).status_code == 404  # no host is recorded yet: nowhere to ask
    with begin_write(engine) as conn:  # what the worker's claim records
        conn.execute(
            update(task_instance)
            .where(task_instance.c.task_id == "extract")
            .values(try_number=1, hostname="127.0.0.1")
        )
    first = viewer.get(url, params={"limit": 4}).json()
    assert first["content"] == "ran " and first["next_offset"] == 4 and first["size"] == 18
    assert viewer.get(url, params={"offset": 4}).json()["content"] == "on the worker\n"
    missing = viewer.get(f"{V1}/dags/etl/dagRuns/r1/taskInstances/extract/logs/2")
    assert missing.status_code == 404 and "no worker host is recorded" in missing.json()["detail"]
