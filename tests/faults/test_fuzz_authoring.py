"""Defect 9: building and serialising DAGs and operators with arguments of the wrong type or range
raises only :class:`WindvaneError` (a DagDefinitionError naming DAG, task and argument), never a plain
TypeError/ValueError/OverflowError/AttributeError. Bounded Hypothesis runs (about 200 examples each)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pendulum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.bash import BashOperator
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.operators.python import PythonOperator
from windvane.core.authoring.serialize import serialize_dag
from windvane.errors import WindvaneError

START = pendulum.datetime(2024, 1, 1, tz="UTC")
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Values of every kind a DAG file might pass by mistake.
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**70),
    st.integers(max_value=-(2**31) + 2, min_value=-(2**70)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1.0]),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), st.integers(), max_size=3),
    st.sets(st.integers(), max_size=3),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.builds(object),
    st.just(print),
    st.timedeltas(),
    st.sampled_from([timedelta.max, timedelta(days=3_000_000), timedelta(seconds=-1)]),
    st.datetimes(),
    st.sampled_from([datetime.max, datetime.min, pendulum.datetime(9999, 12, 31, tz="UTC")]),
)

TASK_ARGS = [
    "owner", "email", "email_on_failure", "email_on_retry", "retries", "retry_delay",
    "retry_exponential_backoff", "max_retry_delay", "execution_timeout", "trigger_rule", "pool",
    "pool_slots", "priority_weight", "weight_rule", "depends_on_past", "max_active_tis_per_dag", "queue",
    "sla", "start_date", "end_date", "params", "do_xcom_push", "isolated", "on_failure_callback",
    "on_success_callback", "on_retry_callback", "on_execute_callback", "on_skipped_callback", "doc_md",
    "task_id",
]  # fmt: skip
DAG_ARGS = [
    "schedule", "start_date", "end_date", "catchup", "default_args", "max_active_runs", "max_active_tasks",
    "dagrun_timeout", "tags", "params", "description", "doc_md", "on_failure_callback",
    "on_success_callback", "sla_miss_callback", "is_paused_upon_creation", "template_searchpath",
    "user_defined_macros", "user_defined_filters", "owner_links", "dag_id", "deadline",
]  # fmt: skip
BASH_ARGS = ["bash_command", "env", "append_env", "output_encoding", "skip_on_exit_code", "cwd"]
PYTHON_ARGS = [
    "python_callable", "op_args", "op_kwargs", "templates_dict", "templates_exts",
    "show_return_value_in_logs",
]  # fmt: skip


def _build_and_serialize(dag_kwargs: dict[str, Any], make_task: Any) -> None:
    options: dict[str, Any] = {"schedule": "@daily", "start_date": START}
    options.update(dag_kwargs)
    dag_id = options.pop("dag_id", "fuzzed")
    with DAG(dag_id, **options) as dag:
        make_task()
    serialize_dag(dag).to_json()


def _check(error: BaseException | None, argument: str) -> None:
    if error is None:
        return
    assert isinstance(error, WindvaneError), f"{type(error).__name__} escaped for {argument}: {error}"
    assert argument in str(error) or argument in ("task_id", "dag_id", "schedule"), (argument, str(error))


def _attempt(dag_kwargs: dict[str, Any], make_task: Any) -> BaseException | None:
    try:
        _build_and_serialize(dag_kwargs, make_task)
    except Exception as exc:
        return exc
    return None


@FUZZ
@given(argument=st.sampled_from(TASK_ARGS), value=ODD)
def test_base_operator_arguments(argument: str, value: Any) -> None:
    kwargs = {"task_id": "t", argument: value}
    _check(_attempt({}, lambda: EmptyOperator(**kwargs)), argument)


@FUZZ
@given(argument=st.sampled_from(DAG_ARGS), value=ODD)
def test_dag_arguments(argument: str, value: Any) -> None:
    _check(_attempt({argument: value}, lambda: EmptyOperator(task_id="t")), argument)


@FUZZ
@given(argument=st.sampled_from(BASH_ARGS), value=ODD)
def test_bash_operator_arguments(argument: str, value: Any) -> None:
    kwargs = {"task_id": "b", "bash_command": "echo hi", argument: value}
    _check(_attempt({}, lambda: BashOperator(**kwargs)), argument)


@FUZZ
@given(argument=st.sampled_from(PYTHON_ARGS), value=ODD)
def test_python_operator_arguments(argument: str, value: Any) -> None:
    kwargs = {"task_id": "p", "python_callable": print, argument: value}
    _check(_attempt({}, lambda: PythonOperator(**kwargs)), argument)


@FUZZ
@given(argument=st.sampled_from(TASK_ARGS[:-1]), value=ODD)
def test_default_args_are_checked_like_arguments(argument: str, value: Any) -> None:
    _check(_attempt({"default_args": {argument: value}}, lambda: EmptyOperator(task_id="t")), argument)
