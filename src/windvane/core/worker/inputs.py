"""What a worker builds once and hands to many tries: a DAG's Jinja environment, a run's inputs.

A try's process is forked from the worker and thrown away, so whatever it
builds itself is built again by the next one, in pages it must copy. These
objects depend only on the DAG or on the DAG run, so the worker builds each
once (before forking) and every try of that DAG or run inherits it ready.
Tries cannot affect one another through them: each runs in its own process.
"""

from __future__ import annotations

import os
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pendulum

from windvane.core.task_api.context import RunInfo, run_context
from windvane.core.task_api.templating import make_jinja_env

if TYPE_CHECKING:
    import jinja2

    from windvane.core.authoring.dag import DAG
    from windvane.core.model.workload import Workload

_JINJA_ENVS: weakref.WeakKeyDictionary[DAG, jinja2.Environment] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class RunInputs:
    """A run as its tries' context shows it: ``dag_run`` and the keys derived from it alone."""

    info: RunInfo
    keys: Mapping[str, Any]


_RUNS: OrderedDict[tuple[Any, ...], tuple[dict[str, Any], RunInputs]] = OrderedDict()
#: Runs whose RunInfo a worker keeps (the latest used).
_MAX_RUNS = 64


def jinja_env_for(dag: DAG) -> jinja2.Environment:
    """The DAG's template environment: its folder and ``template_searchpath``, macros and filters.

    Built once per DAG object (a worker keeps its DAGs until their file changes).
    """
    env = _JINJA_ENVS.get(dag)
    if env is None:
        searchpath = [os.path.dirname(os.path.abspath(dag.fileloc)), *dag.template_searchpath]
        env = make_jinja_env(searchpath=searchpath)
        env.globals.update(dag.user_defined_macros)
        env.filters.update(dag.user_defined_filters)
        _JINJA_ENVS[dag] = env
    return env


def run_inputs_for(
    workload: Workload,
    *,
    run_start_date: datetime | None,
    prev_data_interval_start_success: datetime | None,
    prev_data_interval_end_success: datetime | None,
) -> RunInputs:
    """The context's ``dag_run`` (and what derives from it) for ``workload``, from a cache of
    the latest runs.

    Raises ``ValueError`` (or what :class:`RunInfo` raises) when a date cannot be used.
    """
    key = (
        workload.dag_run_id, workload.dag_id, workload.run_id, workload.run_type, workload.logical_date,
        workload.data_interval_start, workload.data_interval_end, run_start_date,
        prev_data_interval_start_success, prev_data_interval_end_success,
    )  # fmt: skip
    cached = _RUNS.get(key)
    if cached is not None and cached[0] == workload.conf:
        _RUNS.move_to_end(key)
        return cached[1]
    logical_date = _parse(workload.logical_date)
    start = _parse(workload.data_interval_start) if workload.data_interval_start else logical_date
    end = _parse(workload.data_interval_end) if workload.data_interval_end else logical_date
    info = RunInfo(
        dag_id=workload.dag_id,
        run_id=workload.run_id,
        run_type=workload.run_type,
        logical_date=logical_date,
        data_interval_start=start,
        data_interval_end=end,
        prev_data_interval_start_success=_opt_pendulum(prev_data_interval_start_success),
        prev_data_interval_end_success=_opt_pendulum(prev_data_interval_end_success),
        conf=workload.conf,
        start_date=_opt_pendulum(run_start_date),
    )
    inputs = RunInputs(info, MappingProxyType(run_context(info)))
    _RUNS[key] = (dict(workload.conf), inputs)
    if len(_RUNS) > _MAX_RUNS:
        _RUNS.popitem(last=False)
    return inputs


def _parse(text: str) -> pendulum.DateTime:
    value = pendulum.parse(text)
    if not isinstance(value, pendulum.DateTime):
        raise ValueError(f"expected a date and time, got {value!r}")
    return value


def _opt_pendulum(value: datetime | None) -> pendulum.DateTime | None:
    return None if value is None else pendulum.instance(value)
