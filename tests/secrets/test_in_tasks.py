"""Connections and Variables in tasks: LocalExecutor workers, templates, `Variable`, the parse warning."""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine

from windvane import Variable
from windvane.core.executors.local import LocalExecutor
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store import secrets_sql
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.fernet import FernetCodec
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.task_api.secrets import install_resolver
from windvane.core.task_api.secrets_backends.env import EnvironmentBackend
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.in_process import run_dag_in_process
from windvane.errors import NotFoundError, SerializationError, StoreError, VariableNotFoundError
from windvane.testing import register_dag, run_states, write_dag_file

from ..cli.conftest import RunCli

NOW = pendulum.datetime(2024, 3, 1, tz="UTC")
ENV = {
    "WINDVANE_CONN_WAREHOUSE": "postgresql://loader:wh-pass-31337@wh.internal:6543/dw",
    "WINDVANE_VAR_SETTINGS": '{"batch": {"size": 500}}',
    "WINDVANE_VAR_GREETING": "hello",
}
WORKER_DAG = """
import pendulum
from windvane import DAG, BaseHook, BashOperator, PythonOperator, Variable


def use_them():
    conn = BaseHook.get_connection("warehouse")
    size = Variable.get("settings", deserialize_json=True)["batch"]["size"]
    print("connecting to", conn.host, "as", conn.login, "with", conn.password)
    Variable.set("last_batch", {"size": size, "host": conn.host}, serialize_json=True)
    return size


with DAG("uses_secrets", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    py = PythonOperator(task_id="py", python_callable=use_them)
    bash = BashOperator(
        task_id="bash",
        bash_command="test '{{ conn.warehouse.host }}:{{ conn.warehouse.port }}' = 'wh.internal:6543' "
        "&& test '{{ var.json.settings.batch.size }}' = 500 && test '{{ var.value.greeting }}' = hello "
        "&& echo {{ conn.warehouse.password }}",
    )
    py >> bash
"""


def test_local_executor_workers_read_and_write_through_the_configured_backends(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_dag_file(tmp_path, WORKER_DAG, "uses_secrets.py")
    ser = register_dag(engine, DagLoader().get_dag(path, "uses_secrets"), now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)
    url = engine.url.render_as_string(hide_password=False)
    config = SecretsConfig(db_url=url, environ=ENV)
    executor = LocalExecutor(1, db_url=url, log_folder=str(tmp_path / "logs"), secrets=config)
    scheduler = Scheduler(engine=engine, executor=executor, config=SchedulerConfig(poll_interval_seconds=0.0))
    scheduler.run(
        until=lambda _s: set(run_states(engine, "uses_secrets").values()) <= {"success", "failed"}, timeout=60
    )
    logs = sorted((tmp_path / "logs").rglob("*.log"))
    text = "\n".join(p.read_text() for p in logs)
    assert set(run_states(engine, "uses_secrets").values()) == {"success"}, text
    assert "connecting to wh.internal as loader with ***" in text
    assert "wh-pass-31337" not in text
    with begin_read(engine) as db:
        written = secrets_sql.get_variable(dbapi_tx(db), FernetCodec(), "last_batch")
    assert written is not None and written.value is not None
    assert '"size": 500' in written.value and '"host": "wh.internal"' in written.value


def test_templates_resolve_at_run_time_in_process(tmp_path: Path) -> None:
    source = WORKER_DAG.replace("    py >> bash\n", "").replace(
        '    py = PythonOperator(task_id="py", python_callable=use_them)\n', ""
    )
    path = write_dag_file(tmp_path, source, "uses_secrets.py")
    install_resolver(None)
    dag = DagLoader().get_dag(path, "uses_secrets")  # no resolver: parsing reads no template
    install_resolver(EnvironmentBackend(ENV))
    outcome = run_dag_in_process(dag)
    assert list(outcome.tasks) == ["bash"]
    assert outcome.tasks["bash"].state.value == "success", outcome.tasks["bash"].error


def test_variable_get_set_and_its_errors(tmp_path: Path) -> None:
    install_resolver(EnvironmentBackend(ENV))
    assert Variable.get("greeting") == "hello"
    assert Variable.get("settings", deserialize_json=True) == {"batch": {"size": 500}}
    assert Variable.get("missing", default_var=None) is None
    assert Variable.get("missing", default_var={"a": 1}, deserialize_json=True) == {"a": 1}
    with pytest.raises(VariableNotFoundError, match="Variable 'missing' does not exist") as caught:
        Variable.get("missing")
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, NotFoundError)
    with pytest.raises(SerializationError, match="Variable 'greeting' is not valid JSON"):
        Variable.get("greeting", deserialize_json=True)
    with pytest.raises(StoreError, match="cannot set variable 'x': no configured secrets backend"):
        Variable.set("x", 1)
    install_resolver(None)
    with pytest.raises(StoreError, match="not configured"):
        Variable.get("greeting")


PARSE_TIME_DAG = """\
import pendulum
from windvane import DAG, BashOperator, Variable

bucket = Variable.get("bucket", default_var="fallback")

with DAG("parse_time_read", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    BashOperator(task_id="t", bash_command=f"echo {bucket}")
"""


def test_a_variable_read_at_parse_time_works_and_is_logged_with_file_and_line(
    run_cli: RunCli, home: Path, dags_folder: Path
) -> None:
    path = write_dag_file(dags_folder, PARSE_TIME_DAG, "parse_time.py")
    assert run_cli("db", "migrate").code == 0
    assert run_cli("variables", "set", "bucket", "s3://parsed").code == 0
    parsed = run_cli("dag-processor", "--num-runs", "1")
    assert parsed.code == 0, parsed.err
    listed = run_cli("dags", "list")
    assert "parse_time_read" in listed.out
    parse_log = (home / "logs" / "dag_processor" / "parsing.log").read_text()
    assert f"Variable 'bucket' is read while parsing the DAG file {path}:4" in parse_log
