"""Authoring a DAG: default_args, dependencies, ids, validation, task groups, priorities."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import datetime, timedelta

import pendulum
import pytest

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.defaults import AuthoringDefaults, get_authoring_defaults, set_authoring_defaults
from windvane.core.authoring.dependencies import chain, cross_downstream
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.operators.python import PythonOperator
from windvane.core.authoring.taskgroup import TaskGroup
from windvane.core.model.trigger_rule import TriggerRule
from windvane.errors import (
    CycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    InvalidArgumentError,
    UnknownTriggerRuleError,
)

START = pendulum.datetime(2024, 1, 1, tz="UTC")


def make_dag(dag_id: str = "d", **kwargs: object) -> DAG:
    kwargs.setdefault("start_date", START)
    kwargs.setdefault("schedule", None)
    return DAG(dag_id, **kwargs)  # type: ignore[arg-type]


def ups(dag: DAG) -> dict[str, list[str]]:
    return {tid: sorted(t.upstream_task_ids) for tid, t in dag.task_dict.items()}


def _line() -> int:
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


# -- default_args --------------------------------------------------------------


def test_default_args_precedence_dag_group_task_and_explicit() -> None:
    with make_dag(default_args={"retries": 1, "owner": "dag", "pool": "p_dag", "queue": "q_dag"}):
        plain = EmptyOperator(task_id="plain")
        with TaskGroup("g", default_args={"owner": "group", "pool": "p_group"}):
            in_group = EmptyOperator(task_id="in_group", default_args={"pool": "p_task"})
            explicit = EmptyOperator(task_id="explicit", default_args={"pool": "p_task"}, pool="p_explicit")
    assert (plain.retries, plain.owner, plain.pool, plain.queue) == (1, "dag", "p_dag", "q_dag")
    assert (in_group.retries, in_group.owner, in_group.pool) == (1, "group", "p_task")
    assert explicit.pool == "p_explicit"


def test_nested_group_default_args_override_outer_group() -> None:
    with (
        make_dag(),
        TaskGroup("outer", default_args={"retries": 2, "owner": "outer"}),
        TaskGroup("inner", default_args={"retries": 5}),
    ):
        t = EmptyOperator(task_id="t")
    assert (t.retries, t.owner) == (5, "outer")


def test_default_args_reach_operators_without_their_own_init_and_subclass_params() -> None:
    def noop() -> None:
        return None

    with make_dag(
        default_args={"retries": 3, "show_return_value_in_logs": False, "op_kwargs": {"a": 1}}
    ) as dag:
        empty = EmptyOperator(task_id="empty")
        python = PythonOperator(task_id="python", python_callable=noop)
    assert empty.dag is dag and empty.retries == 3
    assert python.show_return_value_in_logs is False
    assert python.op_kwargs == {"a": 1}


def test_unknown_default_args_keys_are_ignored() -> None:
    with make_dag(default_args={"no_such_argument": 1, "retries": 2}):
        t = EmptyOperator(task_id="t")
    assert t.retries == 2
    assert not hasattr(t, "no_such_argument")


def test_unknown_explicit_argument_is_named() -> None:
    with make_dag(), pytest.raises(InvalidArgumentError, match="no_such_argument"):
        EmptyOperator(task_id="t", no_such_argument=1)


def test_positional_arguments_are_refused() -> None:
    with make_dag(), pytest.raises(InvalidArgumentError, match="keyword arguments only"):
        EmptyOperator("t")  # type: ignore[call-arg]


def test_dag_start_date_in_default_args() -> None:
    dag = DAG("d", schedule=None, default_args={"start_date": START})
    assert dag.start_date == START


# -- dependencies ----------------------------------------------------------------


def test_shift_operators_with_lists_on_both_sides() -> None:
    with make_dag() as dag:
        a, b, c, d, e, f = (EmptyOperator(task_id=x) for x in "abcdef")
        result = a >> [b, c]
        [b, c] >> d
        e << [d]
        [f] << e
    assert result == [b, c]
    assert ups(dag) == {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d"], "f": ["e"]}


def test_shift_returns_right_hand_side_for_chaining() -> None:
    with make_dag() as dag:
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        a >> b >> c
        c << EmptyOperator(task_id="z")
    assert ups(dag) == {"a": [], "b": ["a"], "c": ["b", "z"], "z": []}


def test_set_upstream_and_set_downstream() -> None:
    with make_dag() as dag:
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        b.set_upstream(a)
        b.set_downstream([c])
    assert ups(dag) == {"a": [], "b": ["a"], "c": ["b"]}
    assert [t.task_id for t in a.downstream_list] == ["b"]
    assert [t.task_id for t in c.upstream_list] == ["b"]


def test_chain_with_paired_lists() -> None:
    with make_dag() as dag:
        a, b1, b2, c1, c2, d = (EmptyOperator(task_id=x) for x in ("a", "b1", "b2", "c1", "c2", "d"))
        chain(a, [b1, b2], [c1, c2], d)
    assert ups(dag) == {"a": [], "b1": ["a"], "b2": ["a"], "c1": ["b1"], "c2": ["b2"], "d": ["c1", "c2"]}


def test_chain_of_lists_with_different_lengths_fails() -> None:
    with make_dag():
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        with pytest.raises(ValueError, match="different lengths"):
            chain([a, b], [c])


def test_cross_downstream() -> None:
    with make_dag() as dag:
        a, b, c, d = (EmptyOperator(task_id=x) for x in "abcd")
        cross_downstream([a, b], [c, d])
    assert ups(dag) == {"a": [], "b": [], "c": ["a", "b"], "d": ["a", "b"]}


def test_dependency_on_a_non_task_is_a_clear_type_error() -> None:
    with make_dag():
        a = EmptyOperator(task_id="a")
        with pytest.raises(TypeError, match="cannot set a dependency on 'b'"):
            a >> "b"


def test_dependency_between_dags_fails() -> None:
    with make_dag("one"):
        a = EmptyOperator(task_id="a")
    with make_dag("two"):
        b = EmptyOperator(task_id="b")
    with pytest.raises(DagDefinitionError, match="different DAGs"):
        a >> b


# -- ids and validation ------------------------------------------------------------


def test_duplicate_task_id_names_both_definition_sites() -> None:
    with make_dag(), pytest.raises(DuplicateTaskIdError) as info:
        EmptyOperator(task_id="same")
        first = _line() - 1
        EmptyOperator(task_id="same")
    second = first + 2
    message = str(info.value)
    assert "'same'" in message
    assert f"{__file__}:{first}" in message
    assert f"{__file__}:{second}" in message


def test_invalid_task_id_is_refused() -> None:
    with make_dag(), pytest.raises(DagDefinitionError, match="invalid task_id 'a b'"):
        EmptyOperator(task_id="a b")


def test_cycle_error_shows_the_path() -> None:
    with pytest.raises(CycleError) as info, make_dag("cyclic"):
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        a >> b >> c >> a
    assert "a -> b -> c -> a" in str(info.value)
    assert info.value.path == ["a", "b", "c", "a"]


def test_self_dependency_is_a_cycle() -> None:
    with make_dag():
        a = EmptyOperator(task_id="a")
        with pytest.raises(CycleError, match="a -> a"):
            a >> a


def test_unknown_trigger_rule_names_task_and_value() -> None:
    with make_dag(), pytest.raises(UnknownTriggerRuleError, match=r"task 't'.*'all_sucess'"):
        EmptyOperator(task_id="t", trigger_rule="all_sucess")


def test_trigger_rule_string_is_coerced() -> None:
    with make_dag():
        t = EmptyOperator(task_id="t", trigger_rule="none_failed")
    assert t.trigger_rule is TriggerRule.NONE_FAILED


@pytest.fixture
def amsterdam_defaults() -> Iterator[None]:
    before = get_authoring_defaults()
    set_authoring_defaults(AuthoringDefaults(timezone=pendulum.timezone("Europe/Amsterdam")))
    try:
        yield
    finally:
        set_authoring_defaults(before)


@pytest.mark.usefixtures("amsterdam_defaults")
def test_naive_start_date_is_read_in_the_configured_timezone() -> None:
    with DAG("d", schedule=None, start_date=datetime(2024, 7, 1, 6, 0)) as dag:
        t = EmptyOperator(task_id="t", start_date=datetime(2024, 7, 2))
    assert dag.start_date is not None and t.start_date is not None
    assert dag.start_date.utcoffset() == timedelta(hours=2)
    assert dag.start_date == pendulum.datetime(2024, 7, 1, 4, 0, tz="UTC")
    assert t.start_date == pendulum.datetime(2024, 7, 1, 22, 0, tz="UTC")


@pytest.mark.usefixtures("amsterdam_defaults")
def test_aware_start_date_keeps_its_timezone() -> None:
    dag = DAG("d", schedule=None, start_date=pendulum.datetime(2024, 7, 1, tz="UTC"))
    assert dag.start_date == pendulum.datetime(2024, 7, 1, tz="UTC")
    assert dag.start_date is not None and dag.start_date.utcoffset() == timedelta(0)


# -- task groups -----------------------------------------------------------------------


def test_task_group_prefixes_ids_and_nests() -> None:
    with make_dag() as dag, TaskGroup("outer") as outer:
        a = EmptyOperator(task_id="a")
        with TaskGroup("inner") as inner:
            b = EmptyOperator(task_id="b")
    assert (a.task_id, b.task_id) == ("outer.a", "outer.inner.b")
    assert inner.group_id == "outer.inner"
    assert set(dag.task_ids) == {"outer.a", "outer.inner.b"}
    assert {t.task_id for t in outer.iter_tasks()} == {"outer.a", "outer.inner.b"}


def test_task_group_without_prefix() -> None:
    with make_dag() as dag, TaskGroup("g", prefix_group_id=False):
        EmptyOperator(task_id="a")
    assert dag.task_ids == ["a"]


def test_group_on_either_side_of_shift_uses_roots_and_leaves() -> None:
    with make_dag() as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("g") as g:
            r1, r2 = EmptyOperator(task_id="r1"), EmptyOperator(task_id="r2")
            leaf = EmptyOperator(task_id="leaf")
            [r1, r2] >> leaf
        end = EmptyOperator(task_id="end")
        start >> g >> end
    assert ups(dag) == {
        "start": [],
        "g.r1": ["start"],
        "g.r2": ["start"],
        "g.leaf": ["g.r1", "g.r2"],
        "end": ["g.leaf"],
    }


def test_duplicate_group_id_fails() -> None:
    with make_dag():
        TaskGroup("g")
        with pytest.raises(DuplicateTaskIdError, match="'g'"):
            TaskGroup("g")


def test_task_group_outside_dag_fails() -> None:
    with pytest.raises(DagDefinitionError, match="TaskGroup 'g'"):
        TaskGroup("g")


# -- priority weights -----------------------------------------------------------------


def test_priority_weight_rules() -> None:
    def weights(rule: str) -> dict[str, int]:
        with make_dag(default_args={"weight_rule": rule}) as dag:
            a = EmptyOperator(task_id="a", priority_weight=1)
            b = EmptyOperator(task_id="b", priority_weight=2)
            c = EmptyOperator(task_id="c", priority_weight=4)
            d = EmptyOperator(task_id="d", priority_weight=8)
            a >> [b, c] >> d
        return dag.priority_weights()

    assert weights("downstream") == {"a": 15, "b": 10, "c": 12, "d": 8}
    assert weights("upstream") == {"a": 1, "b": 3, "c": 5, "d": 15}
    assert weights("absolute") == {"a": 1, "b": 2, "c": 4, "d": 8}


def test_unknown_weight_rule_fails() -> None:
    with make_dag(), pytest.raises(DagDefinitionError, match="weight_rule 'sideways'"):
        EmptyOperator(task_id="t", weight_rule="sideways")


def test_base_operator_subclass_must_implement_execute() -> None:
    class Custom(BaseOperator):
        def __init__(self, *, extra: int = 0, **kwargs: object) -> None:
            super().__init__(**kwargs)  # type: ignore[arg-type]
            self.extra = extra

    with make_dag(default_args={"extra": 7}) as dag:
        t = Custom(task_id="t")
    assert t.extra == 7 and t.dag is dag
    with pytest.raises(NotImplementedError, match="Custom must implement execute"):
        t.execute({})


def test_dag_concurrency_defaults_come_from_the_configured_authoring_defaults() -> None:
    from windvane.core.authoring.defaults import (
        AuthoringDefaults,
        get_authoring_defaults,
        set_authoring_defaults,
    )

    previous = get_authoring_defaults()
    set_authoring_defaults(AuthoringDefaults(max_active_runs=3, max_active_tasks=7))
    try:
        implicit = DAG("implicit_limits")
        explicit = DAG("explicit_limits", max_active_runs=1, max_active_tasks=2)
    finally:
        set_authoring_defaults(previous)
    assert (implicit.max_active_runs, implicit.max_active_tasks) == (3, 7)
    assert (explicit.max_active_runs, explicit.max_active_tasks) == (1, 2)
