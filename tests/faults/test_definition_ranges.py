"""Defect 1 (definition side): out-of-range integers are refused when the DAG is defined, naming
DAG, task and argument; computed priority weights are clamped to the 32-bit range the columns hold."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pendulum
import pytest

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.authoring.validation import INT32_MAX, INT32_MIN
from windvane.errors import DagDefinitionError

START = pendulum.datetime(2024, 1, 1, tz="UTC")


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("retries", 2**31),
        ("retries", 10**30),
        ("priority_weight", 2**31),
        ("priority_weight", -(2**31) - 1),
        ("pool_slots", 2**31),
        ("max_active_tis_per_dag", 2**31),
        ("max_active_tis_per_dag", 0),
        ("retry_delay", timedelta(days=3_000_000)),
        ("execution_timeout", 1e308),
        ("retry_delay", float("nan")),
    ],
)
def test_out_of_range_task_arguments_are_refused_naming_dag_task_and_argument(
    argument: str, value: Any
) -> None:
    with DAG("ranges", schedule=None, start_date=START), pytest.raises(DagDefinitionError) as caught:
        EmptyOperator(task_id="t", **{argument: value})
    message = str(caught.value)
    assert "'ranges'" in message
    assert "'t'" in message
    assert argument in message


@pytest.mark.parametrize("argument", ["max_active_runs", "max_active_tasks"])
def test_out_of_range_dag_limits_are_refused(argument: str) -> None:
    with pytest.raises(DagDefinitionError, match=f"DAG 'limits'.*{argument}"):
        DAG("limits", schedule=None, start_date=START, **{argument: 2**31})


def test_summed_weights_are_clamped_to_32_bits() -> None:
    with DAG("heavy", schedule=None, start_date=START) as dag:
        tasks = [EmptyOperator(task_id=f"t{i}", priority_weight=INT32_MAX) for i in range(4)]
        for up, down in itertools.pairwise(tasks):
            up >> down
        low = [
            EmptyOperator(task_id=f"l{i}", priority_weight=INT32_MIN, weight_rule="upstream")
            for i in range(3)
        ]
        for up, down in itertools.pairwise(low):
            up >> down
    weights = dag.priority_weights()
    assert weights["t0"] == INT32_MAX
    assert weights["l2"] == INT32_MIN
    specs = serialize_dag(dag).tasks
    assert specs["t0"].priority_weight == INT32_MAX
