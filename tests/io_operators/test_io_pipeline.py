"""A whole run in-process: SQL rows feed an HTTP call whose answer is mailed; a bad query fails its task."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from tests.alerting.conftest import SmtpServer
from tests.io_operators.conftest import DictResolver
from tests.io_operators.http_server import ScriptedHttpServer
from windvane import DAG, EmailOperator, HttpOperator, SQLExecuteQueryOperator
from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.task_api.mailer import SmtpParams, install_smtp_params
from windvane.core.worker.in_process import run_dag_in_process


@pytest.fixture
def world(
    connections: DictResolver, http_server: ScriptedHttpServer, mail_server: SmtpServer, tmp_path: Path
) -> Iterator[tuple[ScriptedHttpServer, SmtpServer]]:
    connections.add("db", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "shop.db")}))
    connections.add("api", f"http://127.0.0.1:{http_server.port}")
    install_smtp_params(SmtpParams(host=mail_server.host, port=mail_server.port))
    try:
        yield http_server, mail_server
    finally:
        install_smtp_params(None)


def test_rows_flow_from_sql_through_http_to_email(world: tuple[ScriptedHttpServer, SmtpServer]) -> None:
    api, mail = world
    api.script("/totals", (200, '{"accepted": 2}'))
    with DAG("shop", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
        rows = SQLExecuteQueryOperator(
            task_id="rows",
            conn_id="db",
            sql="CREATE TABLE o (id INT, total INT); INSERT INTO o VALUES (1, 5), (2, 7); SELECT * FROM o",
            split_statements=True,
        )
        post = HttpOperator(
            task_id="post",
            http_conn_id="api",
            endpoint="totals",
            data="{{ ti.xcom_pull(task_ids='rows') | tojson }}",
            response_filter=lambda response: response.json()["accepted"],
        )
        mail_it = EmailOperator(
            task_id="mail",
            to="ops@example.org",
            subject="{{ ti.xcom_pull(task_ids='post') }} orders posted",
            html_content="<p>{{ ti.xcom_pull(task_ids='rows') }}</p>",
        )
        broken = SQLExecuteQueryOperator(task_id="broken", conn_id="db", sql="SELECT price FROM nowhere")
        rows >> post >> mail_it
        rows >> broken
    result = run_dag_in_process(dag, logical_date=pendulum.datetime(2024, 3, 1, tz="UTC"))
    assert result.tasks["mail"].state is TaskInstanceState.SUCCESS, result.tasks
    assert json.loads(api.requests[0].body) == [[1, 5], [2, 7]]
    (sent,) = mail.received
    assert sent.message["Subject"] == "2 orders posted" and sent.part("html") == "<p>[[1, 5], [2, 7]]</p>"
    assert result.state is DagRunState.FAILED
    error = result.tasks["broken"].error or ""
    assert (
        "task 'broken': connection 'db' (sqlite): the statement failed: OperationalError: no such table"
        in error
    )
