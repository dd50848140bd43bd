"""run_dag / run_one_task: states, XComs, logs, failures that say why, variables and connections."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from windvane import DAG, BashOperator, PythonOperator, task
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.errors import NotFoundError
from windvane.testing.errors import RunFailedError
from windvane.testing.run import run_dag, run_one_task
from windvane.testing.sandbox import CONNECTION_ENV_PREFIX, VARIABLE_ENV_PREFIX, create_env

from .dags import DAY, START


def _pipeline() -> DAG:
    with DAG("pipeline", schedule="@daily", start_date=START) as dag:

        @task
        def extract(ds: str) -> list[int]:
            logging.getLogger("user.code").info("extracting %s", ds)
            return [1, 2, 3]

        @task
        def total(values: list[int]) -> int:
            print("summing", values)
            return sum(values)

        total(extract()) >> BashOperator(task_id="report", bash_command="echo reported {{ ds }}")
    return dag


def test_a_run_reports_states_xcoms_and_each_tasks_log() -> None:
    result = run_dag(_pipeline(), DAY).assert_success()
    assert result.state is DagRunState.SUCCESS and result.logical_date == DAY
    assert result.states == {"extract": S.SUCCESS, "total": S.SUCCESS, "report": S.SUCCESS}
    assert result.xcom("extract") == [1, 2, 3] and result.xcom("total") == 6
    assert result.tasks["report"].return_value == "reported 2024-03-04"
    assert "[INFO] user.code: extracting 2024-03-04" in result.log("extract")
    assert "summing [1, 2, 3]" in result.log("total") and "summing" not in result.log("extract")
    assert "reported 2024-03-04" in result.log("report")


def test_assert_success_raises_with_the_failing_tasks_error_and_log() -> None:
    def explode() -> None:
        print("about to fail")
        raise ValueError("the source is empty")

    with DAG("failing", start_date=START) as dag:
        PythonOperator(task_id="boom", python_callable=explode, retries=1) >> BashOperator(
            task_id="after", bash_command="echo never"
        )
    result = run_dag(dag, DAY)
    assert result.state is DagRunState.FAILED and result.tasks["boom"].tries == 2
    with pytest.raises(RunFailedError) as raised:
        result.assert_success()
    message = str(raised.value)
    assert "DAG 'failing' ended failed" in message
    assert "task 'boom': failed after 2 tries" in message
    assert "ValueError: the source is empty" in message and "about to fail" in message
    assert "task 'after': upstream_failed" in message
    assert isinstance(raised.value, AssertionError)


def test_one_task_runs_alone_with_upstream_values_given() -> None:
    dag = _pipeline()
    result = run_one_task(dag, "total", DAY, upstream={"extract": [10, 20]})
    assert result.states == {"total": S.SUCCESS} and result.xcom("total") == 30
    failed = run_one_task(dag, "total", DAY, upstream={"extract": "oops"})
    assert failed.state is DagRunState.FAILED
    with pytest.raises(RunFailedError, match="unsupported operand"):
        failed.assert_success()
    with pytest.raises(NotFoundError, match="its tasks: total"):
        result.xcom("extract")


def test_variables_and_connections_reach_the_context_templates_and_environment(tmp_path: Path) -> None:
    env = create_env(tmp_path / "home")
    env.set_variable("region", "emea")
    env.set_connection("warehouse", host="db.internal", port=5432)
    seen: dict[str, object] = {}

    def look(var, conn) -> str:  # type: ignore[no-untyped-def]
        seen["home"] = os.environ["WINDVANE_HOME"]
        seen["env_var"] = os.environ[VARIABLE_ENV_PREFIX + "LIMIT"]
        seen["env_conn"] = json.loads(os.environ[CONNECTION_ENV_PREFIX + "WAREHOUSE"])
        return f"{var.value.region} {var.json.limit['rows']} {conn.warehouse.host}:{conn.warehouse.port}"

    with DAG("uses_config", start_date=START) as dag:
        PythonOperator(task_id="look", python_callable=look)
        BashOperator(
            task_id="templated", bash_command="echo {{ var.value.region }}@{{ conn.warehouse.host }}"
        )
    result = run_dag(dag, DAY, variables={"limit": {"rows": 5}}, env=env).assert_success()
    assert result.xcom("look") == "emea 5 db.internal:5432"
    assert result.xcom("templated") == "emea@db.internal"
    assert seen == {
        "home": str(env.home),
        "env_var": '{"rows": 5}',
        "env_conn": {"host": "db.internal", "port": 5432},
    }
    assert "WINDVANE_HOME" not in os.environ or os.environ["WINDVANE_HOME"] != str(env.home)
    # Without a sandbox the environment is left alone, and an unknown variable fails the task naming it.
    missing = run_dag(dag, DAY, connections={"warehouse": {"host": "h", "port": 1}})
    with pytest.raises(RunFailedError) as raised:
        missing.assert_success()
    assert "KeyError: 'WINDVANE_HOME'" in str(raised.value)
    assert "variable 'region' does not exist" in str(raised.value)


def test_the_sandbox_has_its_own_home_settings_and_migrated_database(tmp_path: Path) -> None:
    env = create_env(tmp_path / "home")
    try:
        settings = env.settings()
        assert settings.database.sql_alchemy_conn == env.db_url
        assert Path(settings.core.dags_folder) == env.dags_folder and env.dags_folder.is_dir()
        with env.engine.connect() as conn:
            pools = conn.exec_driver_sql("SELECT pool FROM slot_pool").scalars().all()
        assert pools == ["default_pool"]
    finally:
        env.close()
