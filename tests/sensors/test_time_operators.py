"""LatestOnlyOperator, BranchDateTimeOperator and BranchDayOfWeekOperator, on a fixed clock."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import pendulum
import pytest

from windvane import (
    DAG,
    BranchDateTimeOperator,
    BranchDayOfWeekOperator,
    EmptyOperator,
    LatestOnlyOperator,
)
from windvane.core.task_api.context import RunInfo
from windvane.core.task_api.task_instance import RuntimeTaskInstance
from windvane.errors import DagDefinitionError
from windvane.testing.run import run_dag

START = pendulum.datetime(2024, 1, 1, tz="UTC")


def _context(run_type: str, logical: pendulum.DateTime, end: pendulum.DateTime) -> dict[str, Any]:
    run = RunInfo("d", f"{run_type}__x", run_type, logical, logical, end)
    ti = RuntimeTaskInstance(dag_id="d", task_id="t", run_id=run.run_id)
    return {"dag_run": run, "ti": ti, "logical_date": logical}


@pytest.mark.parametrize(
    ("run_type", "now", "proceeds"),
    [
        ("scheduled", pendulum.datetime(2024, 1, 2, 12, tz="UTC"), True),  # within the next interval
        ("scheduled", pendulum.datetime(2024, 1, 5, tz="UTC"), False),  # a catch-up run
        ("backfill", pendulum.datetime(2024, 1, 5, tz="UTC"), False),
        ("manual", pendulum.datetime(2024, 1, 5, tz="UTC"), True),  # external triggers always proceed
    ],
)
def test_latest_only_skips_downstream_unless_latest(
    run_type: str, now: pendulum.DateTime, proceeds: bool
) -> None:
    with DAG("d", schedule="@daily", start_date=START):
        latest = LatestOnlyOperator(task_id="t")
        latest >> [EmptyOperator(task_id="x"), EmptyOperator(task_id="y")]
    latest.now = lambda: now  # type: ignore[method-assign]
    context = _context(run_type, START, START.add(days=1))
    chosen = latest.execute(context)
    assert chosen == (["x", "y"] if proceeds else [])
    assert context["ti"].skip_task_ids == (set() if proceeds else {"x", "y"})


def test_latest_only_in_a_manual_run_end_to_end() -> None:
    with DAG("d", schedule="@daily", start_date=START) as dag:
        LatestOnlyOperator(task_id="latest") >> EmptyOperator(task_id="after")
    result = run_dag(dag)
    assert result.tasks["after"].state == "success"


def _branch_dag(**kwargs: Any) -> tuple[DAG, Any]:
    with DAG("b", schedule=None, start_date=START) as dag:
        op_class = kwargs.pop("op_class")
        branch = op_class(
            task_id="branch", follow_task_ids_if_true="yes", follow_task_ids_if_false=["no"], **kwargs
        )
        branch >> [EmptyOperator(task_id="yes"), EmptyOperator(task_id="no")]
    return dag, branch


@pytest.mark.parametrize(
    ("lower", "upper", "now", "expected"),
    [
        (time(9), time(17), datetime(2024, 5, 6, 12), "yes"),
        (time(9), time(17), datetime(2024, 5, 6, 17, 30), "no"),
        (time(22), time(2), datetime(2024, 5, 6, 23), "yes"),  # spans midnight
        (None, time(9), datetime(2024, 5, 6, 8), "yes"),
        (datetime(2024, 5, 1), None, datetime(2024, 4, 30), "no"),
    ],
)
def test_branch_date_time(lower: Any, upper: Any, now: datetime, expected: str) -> None:
    dag, branch = _branch_dag(op_class=BranchDateTimeOperator, target_lower=lower, target_upper=upper)
    branch.now = lambda: pendulum.instance(now, tz="UTC")
    result = run_dag(dag)
    other = "no" if expected == "yes" else "yes"
    assert (result.tasks[expected].state, result.tasks[other].state) == ("success", "skipped")


def test_branch_date_time_on_the_logical_date_and_bad_bounds() -> None:
    dag, _ = _branch_dag(
        op_class=BranchDateTimeOperator,
        target_lower=datetime(2024, 5, 1),
        target_upper=datetime(2024, 5, 31),
        use_task_logical_date=True,
    )
    assert run_dag(dag, logical_date=pendulum.datetime(2024, 5, 6, tz="UTC")).tasks["yes"].state == "success"
    with pytest.raises(DagDefinitionError, match="target_lower and target_upper cannot both be None"):
        _branch_dag(op_class=BranchDateTimeOperator, target_lower=None, target_upper=None)


@pytest.mark.parametrize(
    ("week_day", "expected"),
    [("Monday", "yes"), ({"Saturday", "Sunday"}, "no"), (0, "yes"), (["tuesday", "MONDAY"], "yes")],
)
def test_branch_day_of_week(week_day: Any, expected: str) -> None:
    dag, branch = _branch_dag(op_class=BranchDayOfWeekOperator, week_day=week_day)
    branch.now = lambda: pendulum.datetime(2024, 5, 6, 12, tz="UTC")  # a Monday
    assert run_dag(dag).tasks[expected].state == "success"


def test_branch_day_of_week_names_a_bad_day() -> None:
    with pytest.raises(DagDefinitionError, match="week_day 'Funday' is not a day of the week"):
        _branch_dag(op_class=BranchDayOfWeekOperator, week_day="Funday")
