"""The API on a migrated database (SQLite and PostgreSQL), with one user per role and a small DAG.

``client(role)`` is an httpx client (FastAPI's TestClient, the ASGI app in-process) that sends
that role's API token; ``browser`` logs in with a cookie session instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pendulum
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from windvane import DAG
from windvane.api.app import create_app
from windvane.api.config import ApiConfig
from windvane.api.users import Role, create_token, create_user
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_write
from windvane.testing.dags import register_dag

NOW = pendulum.datetime(2024, 1, 2, tz="UTC")
PASSWORD = "correct horse battery"


@pytest.fixture
def log_folder(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def app(engine: Engine, log_folder: Path) -> FastAPI:
    # Reads here follow writes made straight through the store: no list answer is kept (the kept
    # answers have their own tests, tests/api/test_answer_cache.py).
    config = ApiConfig(secret_key="test-key", login_rate_limit=3, log_folder=log_folder, list_cache_seconds=0)
    return create_app(engine, config)


@pytest.fixture
def tokens(engine: Engine) -> dict[Role, str]:
    found = {}
    with begin_write(engine) as conn:
        for role in Role:
            create_user(conn, role.value, PASSWORD, role, now=NOW)
            found[role] = create_token(conn, role.value, "tests", now=NOW)[1]
    return found


@pytest.fixture
def client(app: FastAPI, tokens: dict[Role, str]) -> Iterator[Callable[[Role], TestClient]]:
    opened: list[TestClient] = []

    def make(role: Role) -> TestClient:
        c = TestClient(app, headers={"Authorization": f"Bearer {tokens[role]}"})
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


@pytest.fixture
def example_dag(engine: Engine) -> str:
    with DAG(
        "etl", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), tags=["team-a"]
    ) as dag:
        extract = EmptyOperator(task_id="extract")
        transform = EmptyOperator(task_id="transform")
        load = EmptyOperator(task_id="load")
        extract >> transform >> load
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:  # register_dag leaves the listing columns to the processor
        upsert_dag(conn, dag_id=ser.dag_id, fileloc=ser.fileloc, dag_hash=ser.dag_hash,
                   serialized=ser.to_json(), last_parsed_at=NOW, tags=["team-a"])  # fmt: skip
    return dag.dag_id
