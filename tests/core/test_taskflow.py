"""TaskFlow: @task and friends, XComArg dependencies and values, @task_group."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import pendulum
import pytest

from windvane import testing
from windvane.core.authoring.dag import DAG, dag
from windvane.core.authoring.decorators import infer_multiple_outputs, task, task_group
from windvane.core.authoring.dependencies import chain
from windvane.core.authoring.operators.bash import BashOperator
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from windvane.core.authoring.taskgroup import TaskGroup
from windvane.core.authoring.xcom_arg import XComArg
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.task_api.task_instance import RuntimeTaskInstance
from windvane.errors import (
    DagDefinitionError,
    InvalidArgumentError,
    TaskCommandError,
    TaskReturnError,
)
from windvane.testing import MemoryXComs, run_dag_in_process

#: Every run here is the manual run of 2024-01-31 (its ``ds`` is what the assertions expect).
LOGICAL_DATE = pendulum.datetime(2024, 1, 31, tz="UTC")
run_task = partial(testing.run_task, logical_date=LOGICAL_DATE)


def make_dag(dag_id: str = "flow", **kwargs: Any) -> DAG:
    kwargs.setdefault("start_date", pendulum.datetime(2024, 1, 1, tz="UTC"))
    kwargs.setdefault("schedule", None)
    return DAG(dag_id, **kwargs)


def ups(d: DAG) -> dict[str, list[str]]:
    return {tid: sorted(t.upstream_task_ids) for tid, t in d.task_dict.items()}


@task
def one() -> int:
    return 1


@task()
def add(x: int, y: int = 10) -> int:
    return x + y


@task.python(retries=2)
def total(values: list[int], extra: dict[str, int]) -> int:
    return sum(values) + sum(extra.values())


# -- decorator forms and operators -----------------------------------------------------


def test_decorator_forms_create_python_decorated_tasks_returning_xcom_args() -> None:
    with make_dag() as d:
        a, b, c = one(), add(1), total([1], {})
    assert [x.operator.task_id for x in (a, b, c)] == ["one", "add", "total"]
    assert all(isinstance(x, XComArg) and isinstance(x.operator, PythonOperator) for x in (a, b, c))
    assert (a.key, c.operator.retries) == ("return_value", 2)
    assert a.operator.operator_name == "@task"
    assert d.task_dict["add"] is b.operator


def test_decorated_function_keeps_plain_function_and_name() -> None:
    assert one.function() == 1
    assert add.__name__ == "add" and add.__wrapped__ is add.function


def test_branch_short_circuit_and_bash_forms() -> None:
    @task.branch
    def pick() -> str:
        return "x"

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def gate() -> bool:
        return True

    @task.bash(env={"A": "1"})
    def cmd() -> str:
        return "echo hi"

    with make_dag():
        p, g, c = pick(), gate(), cmd()
    assert isinstance(p.operator, BranchPythonOperator) and p.operator.operator_name == "@task.branch"
    assert (
        isinstance(g.operator, ShortCircuitOperator) and g.operator.ignore_downstream_trigger_rules is False
    )
    assert isinstance(c.operator, BashOperator) and c.operator.env == {"A": "1"}


def test_calling_outside_a_dag_fails_clearly() -> None:
    with pytest.raises(DagDefinitionError, match="'one' was called outside a DAG"):
        one()


def test_methods_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="does not support methods"):

        class Holder:
            @task
            def method(self) -> None: ...


def test_unknown_operator_argument_is_named() -> None:
    @task(no_such_thing=1)
    def f() -> None: ...

    with make_dag(), pytest.raises(InvalidArgumentError, match="no_such_thing"):
        f()


def test_call_arguments_are_checked_against_the_function() -> None:
    @task
    def f(a: int, ti: Any, *, b: int = 0) -> None: ...

    with make_dag():
        f(1)  # ti is a context entry: filled at run time
        with pytest.raises(InvalidArgumentError, match=r"@task 'f__1'.*missing.*a"):
            f()
        with pytest.raises(InvalidArgumentError, match=r"unexpected keyword argument 'c'"):
            f(1, c=2)
        with pytest.raises(InvalidArgumentError, match="too many positional"):
            f(1, 2, 3)


def test_docstring_becomes_doc_md() -> None:
    @task
    def documented() -> None:
        """Loads the data.

        Carefully.
        """

    with make_dag():
        x = documented()
        y = documented.override(doc_md="explicit")()
    assert x.operator.doc_md == "Loads the data.\n\nCarefully."
    assert y.operator.doc_md == "explicit"


# -- ids and override -----------------------------------------------------------------------


def test_repeated_calls_get_suffixed_ids_also_in_groups() -> None:
    with make_dag() as d:
        ids = [one().operator.task_id for _ in range(3)]
        with TaskGroup("g"):
            group_ids = [one().operator.task_id for _ in range(2)]
        explicit = [one.override(task_id="one")().operator.task_id]
    assert ids == ["one", "one__1", "one__2"]
    assert group_ids == ["g.one", "g.one__1"]
    assert explicit == ["one__3"]
    assert len(d.task_dict) == 6


def test_override_returns_a_new_decorator() -> None:
    custom = add.override(task_id="custom", retries=3, trigger_rule="all_done")
    with make_dag():
        a = custom(1)
        b = add(1)
    assert (a.operator.task_id, a.operator.retries, a.operator.trigger_rule.value) == (
        "custom",
        3,
        "all_done",
    )
    assert (b.operator.task_id, b.operator.retries) == ("add", 0)


def test_default_args_apply_to_decorated_tasks_and_fill_function_parameters() -> None:
    with make_dag(default_args={"retries": 4, "y": 5}) as d:
        a = add(1)
    assert a.operator.retries == 4
    assert run_task(d.task_dict["add"]).result == 6


# -- dependencies from XComArgs ---------------------------------------------------------------


def test_xcom_args_as_arguments_infer_dependencies_also_when_nested() -> None:
    with make_dag() as d:
        a = one()
        b = add(a)
        c = one()
        total([a, b], {"c": c})
    assert ups(d) == {"one": [], "add": ["one"], "one__1": [], "total": ["add", "one", "one__1"]}


def test_xcom_arg_on_both_sides_of_shift_and_in_chain() -> None:
    with make_dag() as d:
        a, b = one(), one()
        e1, e2 = EmptyOperator(task_id="e1"), EmptyOperator(task_id="e2")
        a >> e1 >> b
        [a, b] >> e2
        e2 << one()
        chain(one(), [e1], e2)
        x = one()
        x << e2
    assert ups(d) == {
        "one": [],
        "one__1": ["e1"],
        "e1": ["one", "one__3"],
        "e2": ["e1", "one", "one__1", "one__2"],
        "one__2": [],
        "one__3": [],
        "one__4": ["e2"],
    }


def test_xcom_arg_operator_key_and_no_iteration() -> None:
    with make_dag():
        op = EmptyOperator(task_id="op")
        a = one()
    assert op.output.operator is op and op.output == XComArg(op)
    assert a["k"].key == "k" and a["k"].operator is a.operator
    with pytest.raises(TypeError, match="not iterable"):
        list(a)
    with pytest.raises(TypeError):
        a[0]  # type: ignore[index]


# -- values at run time --------------------------------------------------------------------


def test_values_flow_between_tasks_including_datetimes() -> None:
    when = pendulum.datetime(2024, 3, 31, 1, 30, tz="Europe/Amsterdam")

    @task
    def extract() -> dict[str, Any]:
        return {"rows": [1, 2, 3], "at": when, "delay": dt.timedelta(minutes=5)}

    @task
    def transform(data: dict[str, Any]) -> dict[str, Any]:
        assert isinstance(data["at"], dt.datetime) and data["at"] == when
        return {"count": len(data["rows"]), "at": data["at"] + data["delay"]}

    @task
    def load(count: int, at: dt.datetime, ds: str) -> str:
        return f"{count}@{at.isoformat()}@{ds}"

    with make_dag() as d:
        t = transform(extract())
        load(t["count"], t["at"])
    result = run_dag_in_process(d, logical_date=LOGICAL_DATE)
    states, xcoms = result.states, result.xcoms
    assert set(states.values()) == {S.SUCCESS}
    assert xcoms.value("load") == "3@2024-03-31T01:35:00+01:00@2024-01-31"
    assert xcoms.value("transform", "count") == 3  # dict return annotation => multiple_outputs
    assert xcoms.value("extract", "at") == when
    restored = xcoms.value("extract", "at")
    assert restored.tzinfo is not None and restored.utcoffset() == when.utcoffset()


def test_xcom_push_and_pull_round_trip_datetimes() -> None:
    ti = RuntimeTaskInstance(dag_id="d", task_id="t", run_id="r")
    aware = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    ti.xcom_push("k", {"aware": aware, "day": dt.date(2024, 5, 1), "p": pendulum.datetime(2024, 1, 1)})
    value = ti.xcom_pull(key="k")
    assert value == {"aware": aware, "day": dt.date(2024, 5, 1), "p": pendulum.datetime(2024, 1, 1)}
    assert value["aware"].utcoffset() == dt.timedelta(hours=-3)
    assert ti.xcom_pull(key="missing", default="d") == "d"


def test_multiple_outputs_pushes_each_key_and_the_whole_dict() -> None:
    @task(multiple_outputs=True)
    def pair():  # type: ignore[no-untyped-def]
        return {"a": 1, "b": [2]}

    with make_dag() as d:
        pair()
    ran = run_task(d.task_dict["pair"])
    assert ran.ti.xcom_pull(key="a") == 1
    assert ran.ti.xcom_pull(key="b") == [2]
    assert ran.ti.xcom_pull() == {"a": 1, "b": [2]}


@pytest.mark.parametrize("value", [[1, 2], None, "text"])
def test_multiple_outputs_with_non_dict_return_fails(value: Any) -> None:
    @task(multiple_outputs=True)
    def bad() -> Any:
        return value

    with make_dag() as d:
        bad()
    with pytest.raises(TaskReturnError, match=r"'bad'.*multiple_outputs.*not a dict"):
        run_task(d.task_dict["bad"])


def test_multiple_outputs_dict_keys_must_be_strings() -> None:
    @task(multiple_outputs=True)
    def bad() -> dict[int, int]:
        return {1: 2}

    with make_dag() as d:
        bad()
    with pytest.raises(TaskReturnError, match="keys must be strings"):
        run_task(d.task_dict["bad"])


def test_multiple_outputs_inference_from_return_annotation() -> None:
    def f1() -> dict[str, int]:
        return {}

    def f2() -> dict:  # type: ignore[type-arg]
        return {}

    def f3() -> list[int]:
        return []

    def f4():  # type: ignore[no-untyped-def]
        return {}

    def f5() -> NotImported:  # type: ignore[name-defined]  # noqa: F821
        return {}

    assert [infer_multiple_outputs(f) for f in (f1, f2, f3, f4, f5)] == [True, True, False, False, False]

    @task(multiple_outputs=False)
    def explicit() -> dict[str, int]:
        return {"a": 1}

    assert explicit.multiple_outputs is False
    assert explicit.override(multiple_outputs=True).multiple_outputs is True


def test_missing_return_value_resolves_to_none_and_missing_key_is_none_for_multiple_outputs() -> None:
    @task
    def show(v: Any) -> Any:
        return [v]

    with make_dag() as d:
        a = one()
        show(a)
        show(one.override(multiple_outputs=True)()["k"])
    xcoms = MemoryXComs()
    assert run_task(d.task_dict["show"], xcoms).result == [None]
    assert run_task(d.task_dict["show__1"], xcoms).result == [None]


def test_branch_and_short_circuit_decorators_at_run_time() -> None:
    @task.branch
    def pick(flag: bool) -> str:
        return "left" if flag else "right"

    @task.short_circuit
    def gate(value: int) -> bool:
        return value > 5

    with make_dag() as d:
        flag = one()
        choice = pick(flag)
        choice >> [EmptyOperator(task_id="left"), EmptyOperator(task_id="right")]
        gate(flag) >> EmptyOperator(task_id="gated") >> EmptyOperator(task_id="gated2")
    result = run_dag_in_process(d, logical_date=LOGICAL_DATE)
    states, xcoms = result.states, result.xcoms
    assert (states["left"], states["right"]) == (S.SUCCESS, S.SKIPPED)
    assert (states["gated"], states["gated2"]) == (S.SKIPPED, S.SKIPPED)
    assert xcoms.value("pick") == "left" and xcoms.value("gate") is False


def test_bash_decorator_runs_returned_command_rendered() -> None:
    @task.bash
    def greet(name: str, ds: str) -> str:
        return f"echo hello {name} {ds} {{{{ ds_nodash }}}}"

    @task.bash
    def nothing() -> str:
        return "  "

    with make_dag() as d:
        greet(one())
        nothing()
    xcoms = MemoryXComs()
    run_task(d.task_dict["one"], xcoms)
    assert run_task(d.task_dict["greet"], xcoms).result == "hello 1 2024-01-31 20240131"
    assert d.task_dict["greet"].upstream_task_ids == {"one"}
    with pytest.raises(TaskCommandError, match="non-empty command"):
        run_task(d.task_dict["nothing"])


# -- @task_group ------------------------------------------------------------------------------


def test_task_group_decorator() -> None:
    @task_group
    def section(x: XComArg) -> XComArg:
        """Does a section."""
        return add(x)

    @task_group(group_id="custom", prefix_group_id=True)
    def empty_section() -> None:
        EmptyOperator(task_id="e")

    with make_dag() as d:
        start = one()
        first = section(start)
        section(first)
        group = empty_section()
        first >> group
    assert isinstance(group, TaskGroup) and group.group_id == "custom"
    assert ups(d) == {
        "one": [],
        "section.add": ["one"],
        "section__1.add": ["section.add"],
        "custom.e": ["section.add"],
    }
    tooltip_group = next(t.task_group for t in d.tasks if t.task_id == "section.add")
    assert tooltip_group is not None and tooltip_group.tooltip == "Does a section."


def test_dag_decorator_with_taskflow() -> None:
    @dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
    def pipeline() -> None:
        total([one(), add(2)], {"x": one()})

    built = pipeline()
    assert built.dag_id == "pipeline"
    result = run_dag_in_process(built, logical_date=LOGICAL_DATE)
    states, xcoms = result.states, result.xcoms
    assert set(states.values()) == {S.SUCCESS}
    assert xcoms.value("total") == 1 + 12 + 1
