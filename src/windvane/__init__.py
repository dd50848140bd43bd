"""Windvane: a workflow orchestrator you can see and trust.

Everything a DAG file needs is importable from here, with Airflow's names::

    from windvane import DAG, task, BashOperator, TaskGroup, TriggerRule, Variable, BaseHook
    from windvane import SQLExecuteQueryOperator, HttpOperator, EmailOperator
"""

from __future__ import annotations

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.dag import DAG, dag
from windvane.core.authoring.decorators import task
from windvane.core.authoring.dependencies import chain, cross_downstream
from windvane.core.authoring.hooks.base import BaseHook
from windvane.core.authoring.operators.bash import BashOperator
from windvane.core.authoring.operators.email import EmailOperator
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.operators.http import HttpOperator
from windvane.core.authoring.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from windvane.core.authoring.operators.sql import SQLExecuteQueryOperator
from windvane.core.authoring.taskgroup import TaskGroup
from windvane.core.authoring.taskgroup_decorator import task_group
from windvane.core.authoring.variable import Variable
from windvane.core.authoring.xcom_arg import XComArg
from windvane.core.model.connection import Connection
from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.model.trigger_rule import TriggerRule
from windvane.core.timetables import DagRunInfo, DataInterval, TimeRestriction, Timetable
from windvane.errors import TaskFailedNoRetry, TaskSkipped, WindvaneError

__version__ = "0.1.0"

__all__ = [
    "DAG",
    "BaseHook",
    "BaseOperator",
    "BashOperator",
    "BranchPythonOperator",
    "Connection",
    "DagRunInfo",
    "DagRunState",
    "DataInterval",
    "EmailOperator",
    "EmptyOperator",
    "HttpOperator",
    "PythonOperator",
    "SQLExecuteQueryOperator",
    "ShortCircuitOperator",
    "TaskFailedNoRetry",
    "TaskGroup",
    "TaskInstanceState",
    "TaskSkipped",
    "TimeRestriction",
    "Timetable",
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
