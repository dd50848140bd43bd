from __future__ import annotations

import dataclasses
import functools
from datetime import datetime, timedelta, timezone
from typing import Any

import pendulum
import pytest

from windvane.core.task_api.context import RunInfo, build_context, call_with_context, params_for_run
from windvane.core.task_api.macros import ds_add
from windvane.core.task_api.templating import make_jinja_env, render_template_fields, render_value
from windvane.errors import InvalidArgumentError, StoreError, TemplateRenderError

UTC = pendulum.UTC


def make_run(**overrides: Any) -> RunInfo:
    fields: dict[str, Any] = {
        "dag_id": "etl",
        "run_id": "scheduled__2024-01-01T00:00:00+00:00",
        "run_type": "scheduled",
        "logical_date": pendulum.datetime(2024, 1, 1),
        "data_interval_start": pendulum.datetime(2024, 1, 1),
        "data_interval_end": pendulum.datetime(2024, 1, 2),
        "conf": {"table": "events"},
    }
    fields.update(overrides)
    return RunInfo(**fields)


def make_context(run: RunInfo | None = None, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("params", {"limit": 10})
    return build_context(run=run or make_run(), dag="DAG", task="TASK", ti="TI", **kwargs)


# -- RunInfo ------------------------------------------------------------------


def test_run_info_stores_pendulum_utc() -> None:
    paris = datetime(2024, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=1)))
    run = make_run(logical_date=paris, start_date=pendulum.datetime(2024, 1, 2, tz="Asia/Tokyo"))
    assert isinstance(run.logical_date, pendulum.DateTime)
    assert run.logical_date == pendulum.datetime(2024, 1, 1, 0, 30)
    assert run.logical_date.timezone_name == "UTC"
    assert run.start_date is not None and run.start_date.timezone_name == "UTC"
    assert run.prev_data_interval_start_success is None


def test_run_info_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match=r"RunInfo\.data_interval_end must be timezone-aware"):
        make_run(data_interval_end=datetime(2024, 1, 2))


def test_run_info_is_frozen_hashable_and_owns_a_read_only_conf() -> None:
    conf = {"nested": {"a": 1}}
    run = make_run(conf=conf)
    conf["nested"]["a"] = 2
    assert run.conf == {"nested": {"a": 1}}
    with pytest.raises(TypeError):
        run.conf["x"] = 1  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.run_id = "other"  # type: ignore[misc]
    assert hash(run) == hash(make_run(conf={"other": True}))


# -- build_context ------------------------------------------------------------


def test_date_strings_are_exact() -> None:
    context = make_context(make_run(logical_date=pendulum.datetime(2024, 1, 1)))
    assert context["ds"] == "2024-01-01"
    assert context["ds_nodash"] == "20240101"
    assert context["ts"] == "2024-01-01T00:00:00+00:00"
    assert context["ts_nodash"] == "20240101T000000"
    assert context["ts_nodash_with_tz"] == "20240101T000000+0000"


def test_date_strings_use_utc_and_keep_microseconds_in_ts() -> None:
    kolkata = pendulum.datetime(2024, 3, 1, 1, 30, 0, 250000, tz="Asia/Kolkata")
    context = make_context(make_run(logical_date=kolkata))
    assert context["ds"] == "2024-02-29"
    assert context["ts"] == "2024-02-29T20:00:00.250000+00:00"
    assert context["ts_nodash"] == "20240229T200000"
    assert context["ts_nodash_with_tz"] == "20240229T200000.250000+0000"


def test_context_has_airflow_names() -> None:
    run = make_run(prev_data_interval_start_success=pendulum.datetime(2023, 12, 31))
    context = make_context(run)
    assert set(context) == {
        "ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "logical_date",
        "data_interval_start", "data_interval_end", "prev_data_interval_start_success",
        "prev_data_interval_end_success", "run_id", "dag_run", "dag", "task", "ti", "task_instance",
        "params", "macros", "var", "conn",
    }  # fmt: skip
    assert context["ti"] == context["task_instance"] == "TI"
    assert (context["dag"], context["task"]) == ("DAG", "TASK")
    assert context["run_id"] == run.run_id
    assert context["logical_date"] is run.logical_date
    assert context["data_interval_end"] == pendulum.datetime(2024, 1, 2)
    assert context["prev_data_interval_start_success"] == pendulum.datetime(2023, 12, 31)
    assert context["prev_data_interval_end_success"] is None
    assert context["macros"].ds_add is ds_add
    dag_run = context["dag_run"]
    assert (dag_run.run_id, dag_run.run_type, dag_run.conf) == (run.run_id, "scheduled", {"table": "events"})
    assert dag_run.data_interval_start == dag_run.logical_date


def test_params_in_context_are_a_copy() -> None:
    params = {"limit": 10}
    context = make_context(params=params)
    context["params"]["limit"] = 0
    assert params == {"limit": 10}


def test_var_and_conn_use_the_injected_getters() -> None:
    context = make_context(var_getter={"bucket": "s3://b"}.get, conn_getter={"pg": {"host": "db"}}.get)
    assert context["var"].value.bucket == "s3://b"
    assert context["conn"].pg.host == "db"
    with pytest.raises(StoreError, match="variables are not configured"):
        make_context()["var"].value.bucket  # noqa: B018


def test_templates_render_against_the_context() -> None:
    context = make_context(var_getter={"bucket": "s3://b"}.get)
    template = (
        "{{ ds }} {{ params.limit }} {{ dag_run.conf.table }} {{ data_interval_end | ds_nodash }} "
        "{{ macros.ds_add(ds, 1) }} {{ var.value.bucket }}"
    )
    assert (
        render_value(template, context, make_jinja_env()) == "2024-01-01 10 events 20240102 2024-01-02 s3://b"
    )


def test_undefined_in_context_names_task_and_field() -> None:
    class Task:
        bash_command = "echo {{ params.limt }}"

    task = Task()
    with pytest.raises(
        TemplateRenderError, match=r"task 'load' in DAG 'etl': .* field 'bash_command': .*'limt'"
    ):
        render_template_fields(
            task, ["bash_command"], make_context(), make_jinja_env(), owner="task 'load' in DAG 'etl'"
        )


# -- params_for_run -----------------------------------------------------------


def test_params_precedence_task_over_dag_conf_over_both() -> None:
    dag_params = {"a": "dag", "b": "dag", "c": "dag"}
    task_params = {"b": "task", "c": "task"}
    conf = {"c": "conf", "extra": 1}
    assert params_for_run(dag_params, task_params, conf) == {"a": "dag", "b": "task", "c": "conf", "extra": 1}
    assert params_for_run(dag_params, task_params, conf, conf_overrides=False) == {
        "a": "dag",
        "b": "task",
        "c": "task",
    }
    assert params_for_run(dag_params, {}, None) == dag_params


def test_params_merge_is_by_top_level_key_and_deep_copied() -> None:
    dag_params = {"db": {"host": "a", "port": 1}}
    merged = params_for_run(dag_params, {}, {"db": {"host": "b"}})
    assert merged == {"db": {"host": "b"}}
    merged = params_for_run(dag_params, {}, None)
    merged["db"]["host"] = "changed"
    assert dag_params["db"]["host"] == "a"


# -- call_with_context --------------------------------------------------------

CONTEXT = {"ds": "2024-01-01", "ti": "TI", "params": {"p": 1}}


def test_picks_only_the_named_context_entries() -> None:
    def func(x: int, ds: str, *, ti: str) -> tuple[int, str, str]:
        return x, ds, ti

    assert call_with_context(func, [1], {}, CONTEXT) == (1, "2024-01-01", "TI")


def test_wildcard_kwargs_get_the_whole_context() -> None:
    def func(x: int, **context: Any) -> dict[str, Any]:
        return {"x": x, **context}

    assert call_with_context(func, [], {"x": 1}, CONTEXT) == {"x": 1, **CONTEXT}


def test_explicit_kwargs_win_over_context() -> None:
    def func(ds: str, **kwargs: Any) -> tuple[str, Any]:
        return ds, kwargs["ti"]

    assert call_with_context(func, [], {"ds": "mine", "ti": "my ti"}, CONTEXT) == ("mine", "my ti")


def test_positional_args_win_over_context() -> None:
    def func(ds: str, ti: str) -> tuple[str, str]:
        return ds, ti

    assert call_with_context(func, ["mine"], {}, CONTEXT) == ("mine", "TI")


def test_function_without_context_parameters_gets_none() -> None:
    def func(a: int, b: int = 2) -> int:
        return a + b

    assert call_with_context(func, [1], {}, CONTEXT) == 3
    assert call_with_context(max, [3, 5], {}, CONTEXT) == 5


def test_partial_and_bound_methods() -> None:
    def func(prefix: str, ds: str) -> str:
        return prefix + ds

    class Greeter:
        def hello(self, params: dict[str, int]) -> int:
            return params["p"]

    assert call_with_context(functools.partial(func, "day "), [], {}, CONTEXT) == "day 2024-01-01"
    assert call_with_context(Greeter().hello, [], {}, CONTEXT) == 1


def test_parameter_given_twice_is_an_error() -> None:
    def func(a: int, b: int) -> int:
        return a + b

    with pytest.raises(
        InvalidArgumentError, match=r"'.*func' gets parameter 'a' twice: from op_args \(position 0\)"
    ):
        call_with_context(func, [1], {"a": 2}, CONTEXT)


def test_unknown_explicit_kwargs_are_not_dropped() -> None:
    def func(a: int) -> int:
        return a

    with pytest.raises(TypeError, match="unexpected keyword argument 'b'"):
        call_with_context(func, [], {"a": 1, "b": 2}, CONTEXT)
