"""The public names: ``windvane`` (for DAG files) and ``windvane.core.interfaces`` (for plug-ins).

Both lists are pinned: adding or removing a name is a decision, made here on purpose.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

import windvane
import windvane.core.interfaces

WINDVANE = [
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
    "EmptyOperator",
    "ExternalTaskSensor",
    "FileSensor",
    "LatestOnlyOperator",
    "PokeReturnValue",
    "PythonOperator",
    "PythonSensor",
    "SensorTimeout",
    "EmailOperator",
    "HttpOperator",
    "SQLExecuteQueryOperator",
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

INTERFACES = [
    "Clock",
    "Connection",
    "DagQuarantined",
    "Executor",
    "ExecutorFactory",
    "ExecutorOptions",
    "JournalEntry",
    "JournalKind",
    "JournalReader",
    "LifecycleEvent",
    "LoopStats",
    "PoolUsage",
    "RunCreated",
    "RunFinished",
    "SchedulerObserver",
    "SecretsConfig",
    "SecretsResolver",
    "SerializedDag",
    "Service",
    "SystemClock",
    "TaskEvent",
    "TaskInstanceKey",
    "TryFinished",
    "TryLost",
    "TryQueued",
    "TryRescheduled",
    "TryScheduled",
    "TryStarted",
    "TryZombie",
    "Workload",
    "create_executor",
    "executor_names",
    "register_executor",
]

MODULES = [(windvane, WINDVANE), (windvane.core.interfaces, INTERFACES)]


@pytest.mark.parametrize(("module", "names"), MODULES, ids=["windvane", "interfaces"])
def test_all_is_exactly_the_pinned_list(module: ModuleType, names: list[str]) -> None:
    assert sorted(module.__all__) == sorted(names)
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize(("module", "names"), MODULES, ids=["windvane", "interfaces"])
def test_every_name_is_importable_and_public(module: ModuleType, names: list[str]) -> None:
    fresh = importlib.import_module(module.__name__)
    for name in module.__all__:
        assert getattr(fresh, name) is not None, name
        assert not name.startswith("_") or name == "__version__", f"{module.__name__}.{name} is private"


@pytest.mark.parametrize(("module", "names"), MODULES, ids=["windvane", "interfaces"])
def test_no_other_public_name_is_defined(module: ModuleType, names: list[str]) -> None:
    """Star-importing gives ``__all__``; any other public attribute of the module is a submodule."""
    namespace: dict[str, object] = {}
    exec(f"from {module.__name__} import *", namespace)
    assert sorted(set(namespace) - {"__builtins__"}) == sorted(names)
    stray = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name not in module.__all__
        and name != "annotations"
        and not isinstance(value, ModuleType)
    }
    assert stray == set(), f"{module.__name__} defines public names missing from __all__"
