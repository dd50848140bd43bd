"""``dags test`` in-process runs, over the shipped example DAGs and edge cases."""

from __future__ import annotations

import runpy
from pathlib import Path

import pendulum
import pytest

from windvane import DAG, BashOperator, PythonOperator, ShortCircuitOperator, TaskFailedNoRetry, task
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.worker.in_process import run_dag_in_process

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "dags").glob("*.py"))
START = pendulum.datetime(2024, 1, 1, tz="UTC")


def _dags_in(path: Path) -> list[DAG]:
    found = [v for v in runpy.run_path(str(path)).values() if isinstance(v, DAG)]
    namespace = runpy.run_path(str(path))
    for value in namespace.values():
        if callable(value) and getattr(value, "__wrapped__", None) is not None and not found:
            found.append(value())
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_dag_runs_to_success(path: Path) -> None:
    dags = _dags_in(path)
    assert dags, f"{path.name} defines no DAG"
    for dag in dags:
        result = run_dag_in_process(dag, logical_date=pendulum.datetime(2024, 3, 4, tz="UTC"))
        failed = {t: r.error for t, r in result.tasks.items() if r.state not in (S.SUCCESS, S.SKIPPED)}
        assert result.state is DagRunState.SUCCESS, failed


def test_branch_on_a_weekend_skips_the_weekday_path() -> None:
    (dag,) = _dags_in(next(p for p in EXAMPLES if p.stem == "branching"))
    result = run_dag_in_process(dag, logical_date=pendulum.datetime(2024, 3, 9, tz="UTC"))  # a Saturday
    assert result.tasks["weekday_refresh"].state is S.SKIPPED
    assert result.tasks["weekend_summary"].state is S.SUCCESS


def test_retries_then_failure_propagates_and_fails_the_run() -> None:
    calls = []

    def flaky() -> None:
        calls.append(1)
        raise RuntimeError("boom")

    with DAG("retrying", start_date=START) as dag:
        PythonOperator(task_id="flaky", python_callable=flaky, retries=2) >> BashOperator(
            task_id="after", bash_command="echo never"
        )
    result = run_dag_in_process(dag)
    assert len(calls) == 3
    assert result.tasks["flaky"].state is S.FAILED and result.tasks["flaky"].tries == 3
    assert "boom" in (result.tasks["flaky"].error or "")
    assert result.tasks["after"].state is S.UPSTREAM_FAILED
    assert result.state is DagRunState.FAILED


def test_no_retry_error_fails_at_once() -> None:
    def stop() -> None:
        raise TaskFailedNoRetry("bad input")

    with DAG("noretry", start_date=START) as dag:
        PythonOperator(task_id="stop", python_callable=stop, retries=5)
    assert run_dag_in_process(dag).tasks["stop"].tries == 1


def test_short_circuit_skips_everything_downstream() -> None:
    with DAG("short", start_date=START) as dag:
        gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: False)
        a = BashOperator(task_id="a", bash_command="echo a")
        b = BashOperator(task_id="b", bash_command="echo b", trigger_rule="all_done")
        gate >> a >> b
    result = run_dag_in_process(dag)
    assert (result.tasks["a"].state, result.tasks["b"].state) == (S.SKIPPED, S.SKIPPED)
    assert result.state is DagRunState.SUCCESS


def test_xcom_flows_between_taskflow_tasks_with_datetimes() -> None:
    with DAG("xcoms", start_date=START) as dag:

        @task
        def produce() -> dict[str, object]:
            return {"at": pendulum.datetime(2024, 5, 1, 12, tz="Europe/Amsterdam"), "n": 3}

        @task
        def consume(value: dict[str, object]) -> str:
            at = value["at"]
            assert isinstance(at, pendulum.DateTime) and at.timezone_name == "Europe/Amsterdam"
            return f"{value['n']}@{at.isoformat()}"

        consume(produce())
    result = run_dag_in_process(dag)
    assert result.state is DagRunState.SUCCESS, {t: r.error for t, r in result.tasks.items()}
    assert result.xcoms[("consume", "return_value")] == '"3@2024-05-01T12:00:00+02:00"'
