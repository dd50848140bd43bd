"""Rendered template fields: what a try stores (masked, bounded), the row written in the try's
finishing transaction by a real worker, the newest runs kept per task, and the API's answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pendulum
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from windvane.api.app import create_app
from windvane.api.config import ApiConfig
from windvane.api.users import Role, create_token, create_user
from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import TaskInstanceState
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.rendered_fields_sql import get_rendered_fields, record_rendered_fields
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import rendered_task_instance_fields as rtif
from windvane.core.task_api.masking import masker
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.rendered import MAX_FIELD_CHARS, rendered_fields_json
from windvane.core.worker.runner import run_workload
from windvane.testing import insert_run, queued_try, write_dag_file

NOW = pendulum.datetime(2024, 1, 2, tz="UTC")
DAG_SOURCE = """
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.bash import BashOperator
from windvane.core.authoring.operators.python import PythonOperator

def fail(day):
    raise ValueError("boom " + day)

with DAG("rf", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    BashOperator(task_id="templated", bash_command="echo {{ run_id }} {{ params.n * 2 }}",
                 env={"DAY": "{{ ds }}", "API_TOKEN": "{{ params.n }}"}, params={"n": 21})
    PythonOperator(task_id="plain", python_callable=lambda: None)
    PythonOperator(task_id="fails", python_callable=fail, op_args=["{{ ds }}"])
"""


@pytest.fixture
def secret() -> Iterator[str]:
    masker().add("hunter2-secret")
    yield "hunter2-secret"
    masker().clear()


def test_fields_are_json_masked_and_bounded(secret: str) -> None:
    task = SimpleNamespace(
        sql=f"SELECT * FROM t WHERE pw = '{secret}'",
        env={"HOME": "/x", "DB_PASSWORD": "plain", "nested": [1, 2.5, None, {"token": "t0k3n"}]},
        password="anything",
        big="x" * (MAX_FIELD_CHARS + 10),
        when=pendulum.datetime(2024, 1, 1, tz="UTC"),
        nan=float("nan"),
    )
    stored = json.loads(rendered_fields_json(task, ("sql", "env", "password", "big", "when", "nan")) or "")
    assert stored["sql"] == "SELECT * FROM t WHERE pw = '***'"
    assert stored["env"] == {"HOME": "/x", "DB_PASSWORD": "***", "nested": [1, 2.5, None, {"token": "***"}]}
    assert stored["password"] == "***"
    assert stored["big"].startswith("x" * MAX_FIELD_CHARS)
    assert stored["big"].endswith("(cut: 4,106 characters)")
    assert stored["when"].startswith("2024-01-01") and stored["nan"] == "nan"


def test_a_task_whose_fields_are_all_empty_stores_nothing() -> None:
    task = SimpleNamespace(templates_dict=None, op_args=[], op_kwargs={})
    assert rendered_fields_json(task, ("templates_dict", "op_args", "op_kwargs")) is None
    assert rendered_fields_json(task, ()) is None


def test_outcome_carries_them_over_the_pipe() -> None:
    outcome = TryOutcome(state=TaskInstanceState.SUCCESS, rendered_fields='{"a": 1}')
    assert TryOutcome.from_json(outcome.to_json()).rendered_fields == '{"a": 1}'
    older = json.loads(TryOutcome(state=TaskInstanceState.SUCCESS).to_json())
    del older["rendered_fields"]  # an outcome an older worker left in the outcome folder
    assert TryOutcome.from_json(json.dumps(older)).rendered_fields is None


def _run(engine: Engine, dag_file: str, task_id: str, logs: Path) -> int:
    wl = queued_try(engine, dag_file, "rf", task_id)
    run_workload(wl, engine=engine, loader=DagLoader(), log_folder=str(logs), hostname="h")
    return wl.dag_run_id


def test_a_worker_stores_them_with_the_finish_and_the_api_shows_them(engine: Engine, tmp_path: Path) -> None:
    dag_file = write_dag_file(tmp_path, DAG_SOURCE)
    run_pk = _run(engine, dag_file, "templated", tmp_path / "logs")
    _run(engine, dag_file, "plain", tmp_path / "logs")
    _run(engine, dag_file, "fails", tmp_path / "logs")
    with begin_read(engine) as conn:
        tx = dbapi_tx(conn)
        found = get_rendered_fields(tx, run_pk, "templated")
        assert get_rendered_fields(tx, run_pk, "plain") is None  # no arguments: nothing stored
        failed = get_rendered_fields(tx, run_pk, "fails")
        run_id = conn.execute(select(rtif.c.run_id).where(rtif.c.task_id == "templated")).scalar_one()
    assert found is not None and found.try_number == 1
    assert found.fields["bash_command"] == f"echo {run_id} 42"
    assert found.fields["env"]["DAY"] == "2024-01-01" and found.fields["env"]["API_TOKEN"] == "***"
    assert failed is not None and failed.fields["op_args"] == ["2024-01-01"]  # kept when execute fails
    app = create_app(engine, ApiConfig(secret_key="k", log_folder=tmp_path / "logs"))
    with begin_write(engine) as conn:
        create_user(conn, "v", "a long password", Role.VIEWER, now=NOW)
        token = create_token(conn, "v", "t", now=NOW)[1]
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        base = f"/api/v1/dags/rf/dagRuns/{run_id}/taskInstances"
        body = client.get(f"{base}/templated").json()
        assert body["rendered_fields"]["fields"]["bash_command"] == f"echo {run_id} 42"
        assert body["rendered_fields"]["try_number"] == 1
        assert client.get(f"{base}/plain").json()["rendered_fields"] is None


def test_only_the_newest_runs_of_a_task_are_kept(engine: Engine) -> None:
    runs = [insert_run(engine, "keep", run_id=f"r{i}") for i in range(5)]
    for i, pk in enumerate(runs):
        with begin_write(engine) as conn:
            for try_number in (1, 2):  # a retry rewrites the run's row and prunes nothing
                record_rendered_fields(
                    dbapi_tx(conn), dag_run_id=pk, dag_id="keep", run_id=f"r{i}", task_id="t",
                    map_index=-1, try_number=try_number, fields_json=json.dumps({"n": i, "try": try_number}),
                    now=NOW + timedelta(minutes=i), prune=try_number == 1, keep=3,
                )  # fmt: skip
    with begin_read(engine) as conn:
        kept = conn.execute(select(rtif.c.dag_run_id).order_by(rtif.c.dag_run_id)).scalars().all()
        newest = get_rendered_fields(dbapi_tx(conn), runs[-1], "t")
        assert conn.execute(select(func.count()).select_from(rtif)).scalar_one() == 3
    assert kept == runs[2:]
    assert newest is not None and newest.fields == {"n": 4, "try": 2} and newest.try_number == 2
