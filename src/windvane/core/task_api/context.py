"""The run context handed to ``execute``, templates and callbacks, with Airflow's names.

Keys of :func:`build_context`: ``ds``, ``ds_nodash``, ``ts``, ``ts_nodash``,
``ts_nodash_with_tz``, ``logical_date``, ``data_interval_start``,
``data_interval_end``, ``prev_data_interval_start_success``,
``prev_data_interval_end_success``, ``run_id``, ``dag_run``, ``dag``, ``task``,
``ti``, ``task_instance``, ``params``, ``macros``, ``var`` and ``conn``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import pendulum

from windvane.core.task_api import secrets
from windvane.core.task_api.macros import macros_namespace
from windvane.core.task_api.templating import (
    ConnectionAccessor,
    ConnectionGetter,
    VariableAccessor,
    VariableGetter,
    ds_filter,
    ds_nodash_filter,
    ts_filter,
    ts_nodash_filter,
    ts_nodash_with_tz_filter,
)
from windvane.errors import InvalidArgumentError

_DATETIME_FIELDS = (
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "prev_data_interval_start_success",
    "prev_data_interval_end_success",
    "start_date",
)


@dataclass(frozen=True)
class RunInfo:
    """What a task needs to know about its DAG run; also the context's ``dag_run``.

    Datetimes may be given in any timezone (not naive) and are stored as
    pendulum UTC. ``conf`` is stored as a read-only deep copy.
    """

    dag_id: str
    run_id: str
    run_type: str
    logical_date: pendulum.DateTime
    data_interval_start: pendulum.DateTime
    data_interval_end: pendulum.DateTime
    prev_data_interval_start_success: pendulum.DateTime | None = None
    prev_data_interval_end_success: pendulum.DateTime | None = None
    conf: Mapping[str, Any] = field(default_factory=dict, hash=False)
    start_date: pendulum.DateTime | None = None

    def __post_init__(self) -> None:
        for name in _DATETIME_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _as_utc(value, name))
        object.__setattr__(self, "conf", MappingProxyType(copy.deepcopy(dict(self.conf))))


def _as_utc(value: object, name: str) -> pendulum.DateTime:
    if not isinstance(value, datetime):
        raise TypeError(f"RunInfo.{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        # The run does not know the DAG's timezone, so it cannot guess what a naive value means.
        raise ValueError(f"RunInfo.{name} must be timezone-aware, got naive {value.isoformat()}")
    return pendulum.instance(value).in_timezone(pendulum.UTC)


def build_context(
    *,
    run: RunInfo,
    dag: Any,
    task: Any,
    ti: Any,
    params: Mapping[str, Any],
    var_getter: VariableGetter | None = None,
    conn_getter: ConnectionGetter | None = None,
    run_keys: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the context of one task try (see the module doc for its keys).

    ``ds`` and ``ts`` are formatted from ``logical_date`` in UTC, as in
    Airflow: ``2024-01-01``, ``2024-01-01T00:00:00+00:00``. ``var`` and
    ``conn`` read through the getters; without them they raise "not configured".
    ``run_keys`` is :func:`run_context` of ``run``, when the caller keeps it
    for many tries of the run.
    """
    return {
        **(run_keys if run_keys is not None else run_context(run)),
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "params": dict(params),
        "macros": macros_namespace(),
        "var": VariableAccessor(var_getter or secrets.get_variable),
        "conn": ConnectionAccessor(conn_getter or _installed_connection),
    }


def _installed_connection(conn_id: str) -> Mapping[str, Any]:
    return secrets.get_connection(conn_id).as_fields()


def run_context(run: RunInfo) -> dict[str, Any]:
    """The keys of the context that depend on the run alone (the same for all its tries)."""
    logical_date = run.logical_date
    return {
        "ds": ds_filter(logical_date),
        "ds_nodash": ds_nodash_filter(logical_date),
        "ts": ts_filter(logical_date),
        "ts_nodash": ts_nodash_filter(logical_date),
        "ts_nodash_with_tz": ts_nodash_with_tz_filter(logical_date),
        "logical_date": logical_date,
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "prev_data_interval_start_success": run.prev_data_interval_start_success,
        "prev_data_interval_end_success": run.prev_data_interval_end_success,
        "run_id": run.run_id,
        "dag_run": run,
    }


def params_for_run(
    dag_params: Mapping[str, Any],
    task_params: Mapping[str, Any],
    conf: Mapping[str, Any] | None,
    *,
    conf_overrides: bool = True,
) -> dict[str, Any]:
    """Merge params as Airflow does: task params over DAG params, then run ``conf`` over both.

    The merge is by top-level key, and every ``conf`` key is added, even one
    no param declares (Airflow's ``dag_run_conf_overrides_params``). The result
    is a deep copy: a task that changes it changes nothing else.
    """
    merged = {**dag_params, **task_params}
    if conf_overrides and conf:
        merged.update(conf)
    return copy.deepcopy(merged)


def call_with_context(
    func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], context: Mapping[str, Any]
) -> Any:
    """Call ``func(*args, **kwargs, **picked)``, as PythonOperator calls its callable.

    ``picked`` holds the context entries ``func`` names as parameters, or all
    of them if it takes ``**kwargs``. Explicit ``kwargs`` win over context
    entries of the same name, and so do ``args`` (where Airflow refuses a
    positional argument whose parameter name is a context key). A parameter
    given both in ``args`` and in ``kwargs`` raises
    :class:`~windvane.errors.InvalidArgumentError`.
    """
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature; they get no context
        return func(*args, **kwargs)
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    filled = {p.name for p in positional[: len(args)]}
    for index, param in enumerate(positional[: len(args)]):
        if param.kind is param.POSITIONAL_OR_KEYWORD and param.name in kwargs:
            raise InvalidArgumentError(
                f"{_callable_name(func)} gets parameter {param.name!r} twice: "
                f"from op_args (position {index}) and from op_kwargs"
            )
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        wanted: AbstractSet[str] = context.keys()
    else:
        wanted = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    picked = {
        key: value
        for key, value in context.items()
        if key in wanted and key not in kwargs and key not in filled
    }
    return func(*args, **kwargs, **picked)


def _callable_name(func: Callable[..., Any]) -> str:
    return repr(getattr(func, "__qualname__", None) or func)
