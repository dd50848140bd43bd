"""Windvane: a workflow orchestrator you can see and trust.

Everything a DAG file needs is importable from here, with Airflow's names::

    from windvane import DAG, task, BashOperator, TaskGroup, TriggerRule, Variable, BaseHook
    from windvane import SQLExecuteQueryOperator, HttpOperator, EmailOperator

The names are imported on first use (PEP 562), so ``import windvane.errors``
or the ``windvane`` command line does not pay for the authoring API: the CLI's
``--version`` and ``--help`` stay fast (see ``bench/cli_startup.py``).
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from windvane.core.authoring.baseoperator import BaseOperator
    from windvane.core.authoring.dag import DAG, dag
    from windvane.core.authoring.decorators import task
    from windvane.core.authoring.dependencies import chain, cross_downstream
    from windvane.core.authoring.hooks.base import BaseHook
    from windvane.core.authoring.operators.bash import BashOperator
    from windvane.core.authoring.operators.branch_time import (
        BranchDateTimeOperator,
        BranchDayOfWeekOperator,
    )
    from windvane.core.authoring.operators.email import EmailOperator
    from windvane.core.authoring.operators.empty import EmptyOperator
    from windvane.core.authoring.operators.http import HttpOperator
    from windvane.core.authoring.operators.latest_only import LatestOnlyOperator
    from windvane.core.authoring.operators.python import (
        BranchPythonOperator,
        PythonOperator,
        ShortCircuitOperator,
    )
    from windvane.core.authoring.operators.sql import SQLExecuteQueryOperator
    from windvane.core.authoring.operators.trigger_dagrun import TriggerDagRunOperator
    from windvane.core.authoring.sensors.base import BaseSensorOperator, PokeReturnValue
    from windvane.core.authoring.sensors.external_task import ExternalTaskSensor
    from windvane.core.authoring.sensors.filesystem import FileSensor
    from windvane.core.authoring.sensors.python import PythonSensor
    from windvane.core.authoring.sensors.time_sensors import DateTimeSensor, TimeDeltaSensor
    from windvane.core.authoring.taskgroup import TaskGroup
    from windvane.core.authoring.taskgroup_decorator import task_group
    from windvane.core.authoring.variable import Variable
    from windvane.core.authoring.xcom_arg import XComArg
    from windvane.core.model.connection import Connection
    from windvane.core.model.states import DagRunState, TaskInstanceState
    from windvane.core.model.trigger_rule import TriggerRule
    from windvane.core.timetables import DagRunInfo, DataInterval, TimeRestriction, Timetable
    from windvane.errors import SensorTimeout, TaskFailedNoRetry, TaskSkipped, WindvaneError

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported when the name is first used).
_LAZY: dict[str, str] = {
    "BaseOperator": "windvane.core.authoring.baseoperator",
    "DAG": "windvane.core.authoring.dag",
    "dag": "windvane.core.authoring.dag",
    "task": "windvane.core.authoring.decorators",
    "chain": "windvane.core.authoring.dependencies",
    "cross_downstream": "windvane.core.authoring.dependencies",
    "BashOperator": "windvane.core.authoring.operators.bash",
    "EmailOperator": "windvane.core.authoring.operators.email",
    "EmptyOperator": "windvane.core.authoring.operators.empty",
    "HttpOperator": "windvane.core.authoring.operators.http",
    "SQLExecuteQueryOperator": "windvane.core.authoring.operators.sql",
    "BranchPythonOperator": "windvane.core.authoring.operators.python",
    "PythonOperator": "windvane.core.authoring.operators.python",
    "ShortCircuitOperator": "windvane.core.authoring.operators.python",
    "TaskGroup": "windvane.core.authoring.taskgroup",
    "task_group": "windvane.core.authoring.taskgroup_decorator",
    "XComArg": "windvane.core.authoring.xcom_arg",
    "BaseHook": "windvane.core.authoring.hooks.base",
    "Variable": "windvane.core.authoring.variable",
    "Connection": "windvane.core.model.connection",
    "DagRunState": "windvane.core.model.states",
    "TaskInstanceState": "windvane.core.model.states",
    "TriggerRule": "windvane.core.model.trigger_rule",
    "DagRunInfo": "windvane.core.timetables",
    "DataInterval": "windvane.core.timetables",
    "TimeRestriction": "windvane.core.timetables",
    "Timetable": "windvane.core.timetables",
    "TaskFailedNoRetry": "windvane.errors",
    "TaskSkipped": "windvane.errors",
    "WindvaneError": "windvane.errors",
    "SensorTimeout": "windvane.errors",
    "BranchDateTimeOperator": "windvane.core.authoring.operators.branch_time",
    "BranchDayOfWeekOperator": "windvane.core.authoring.operators.branch_time",
    "LatestOnlyOperator": "windvane.core.authoring.operators.latest_only",
    "TriggerDagRunOperator": "windvane.core.authoring.operators.trigger_dagrun",
    "BaseSensorOperator": "windvane.core.authoring.sensors.base",
    "PokeReturnValue": "windvane.core.authoring.sensors.base",
    "ExternalTaskSensor": "windvane.core.authoring.sensors.external_task",
    "FileSensor": "windvane.core.authoring.sensors.filesystem",
    "PythonSensor": "windvane.core.authoring.sensors.python",
    "DateTimeSensor": "windvane.core.authoring.sensors.time_sensors",
    "TimeDeltaSensor": "windvane.core.authoring.sensors.time_sensors",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'windvane' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DAG",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BashOperator",
    "BranchDateTimeOperator",
    "BranchDayOfWeekOperator",
    "BranchPythonOperator",
    "Connection",
    "DagRunInfo",
    "DagRunState",
    "DataInterval",
    "DateTimeSensor",
    "EmailOperator",
    "EmptyOperator",
    "ExternalTaskSensor",
    "FileSensor",
    "HttpOperator",
    "LatestOnlyOperator",
    "PokeReturnValue",
    "PythonOperator",
    "PythonSensor",
    "SQLExecuteQueryOperator",
    "SensorTimeout",
    "ShortCircuitOperator",
    "TaskFailedNoRetry",
    "TaskGroup",
    "TaskInstanceState",
    "TaskSkipped",
    "TimeDeltaSensor",
    "TimeRestriction",
    "Timetable",
    "TriggerDagRunOperator",
    "TriggerRule",
    "Variable",
    "WindvaneError",
    "XComArg",
    "__version__",
    "chain",
    "cross_downstream",
    "dag",
    "task",
    "task_group",
]
