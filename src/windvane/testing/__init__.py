"""Tools for testing Windvane DAGs, executors and plug-ins: test doubles, database helpers, runners.

What it holds, one concept per module:

* :mod:`.instant` — :class:`InstantExecutor`, finishes every try at once (scheduler tests, benchmark B4);
* :mod:`.scripted` — :class:`ScriptedExecutor`, replays a script of :class:`Step` values in fake time;
* :mod:`.database` — a migrated SQLite file, a PostgreSQL database of one's own (:class:`PostgresDatabase`),
  a migrated SQLite file copied per test (:class:`SqliteTemplate`);
* :mod:`.fixtures` — pytest fixtures ``engine``, ``db_url``, ``sqlite_engine``, ``db_backend``,
  ``pg_database`` (load with ``pytest_plugins = ["windvane.testing.fixtures"]``);
* :mod:`.rows`, :mod:`.workloads`, :mod:`.dags` — runs, task instances and workloads in a test database,
  DAG files and registered DAGs;
* :mod:`.waiting` — :func:`wait_for` a condition with a deadline, :func:`collect_events` from an executor;
* :mod:`.tasks` — :func:`run_task`, one task's ``execute`` as a worker calls it; with
  :func:`run_dag_in_process` (the runner behind ``windvane dags test``) and :class:`MemoryXComs`;
* :mod:`.executor_contract` — :class:`~windvane.testing.executor_contract.ExecutorContract`, the checks
  every executor passes, and :mod:`.contract_dag`, the DAG it runs.

May import anything in :mod:`windvane.core`; nothing in core imports it. The
modules that need pytest (:mod:`.fixtures`, :mod:`.executor_contract`) are not
imported here, so the rest works without it. See docs/testing.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from windvane.core.worker.in_process import DagRunResult, MemoryXComs, TaskResult, run_dag_in_process
    from windvane.testing.dags import register_dag, write_dag_file
    from windvane.testing.database import (
        DEFAULT_POSTGRES_SERVER_URL,
        DatabaseUnavailableError,
        PostgresDatabase,
        SqliteTemplate,
        migrated_engine,
        sqlite_url,
    )
    from windvane.testing.holding import HoldingExecutor
    from windvane.testing.instant import InstantExecutor
    from windvane.testing.rows import (
        JOB_ID,
        LOGICAL_DATE,
        RUN_ID,
        find_run,
        insert_run,
        insert_task_instances,
        run_states,
        ti_row,
        ti_states,
        ti_states_of_run,
        xcom_text,
    )
    from windvane.testing.scripted import HOLD, LOST, ZOMBIE, ScriptedExecutor, Step
    from windvane.testing.tasks import TaskRun, run_task
    from windvane.testing.waiting import collect_events, wait_for
    from windvane.testing.workloads import make_workload, queued_try

#: Public name -> the module defining it. Imported on first use (PEP 562), so that importing a
#: submodule (the pytest plugin, loaded in every pytest run) does not import the database layer.
_LAZY = {
    "DagRunResult": "windvane.core.worker.in_process",
    "MemoryXComs": "windvane.core.worker.in_process",
    "TaskResult": "windvane.core.worker.in_process",
    "run_dag_in_process": "windvane.core.worker.in_process",
    "register_dag": "windvane.testing.dags",
    "write_dag_file": "windvane.testing.dags",
    "DEFAULT_POSTGRES_SERVER_URL": "windvane.testing.database",
    "DatabaseUnavailableError": "windvane.testing.database",
    "PostgresDatabase": "windvane.testing.database",
    "SqliteTemplate": "windvane.testing.database",
    "migrated_engine": "windvane.testing.database",
    "sqlite_url": "windvane.testing.database",
    "HoldingExecutor": "windvane.testing.holding",
    "InstantExecutor": "windvane.testing.instant",
    "JOB_ID": "windvane.testing.rows",
    "LOGICAL_DATE": "windvane.testing.rows",
    "RUN_ID": "windvane.testing.rows",
    "find_run": "windvane.testing.rows",
    "insert_run": "windvane.testing.rows",
    "insert_task_instances": "windvane.testing.rows",
    "run_states": "windvane.testing.rows",
    "ti_row": "windvane.testing.rows",
    "ti_states": "windvane.testing.rows",
    "ti_states_of_run": "windvane.testing.rows",
    "xcom_text": "windvane.testing.rows",
    "HOLD": "windvane.testing.scripted",
    "LOST": "windvane.testing.scripted",
    "ZOMBIE": "windvane.testing.scripted",
    "ScriptedExecutor": "windvane.testing.scripted",
    "Step": "windvane.testing.scripted",
    "TaskRun": "windvane.testing.tasks",
    "run_task": "windvane.testing.tasks",
    "collect_events": "windvane.testing.waiting",
    "wait_for": "windvane.testing.waiting",
    "make_workload": "windvane.testing.workloads",
    "queued_try": "windvane.testing.workloads",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_POSTGRES_SERVER_URL",
    "HOLD",
    "JOB_ID",
    "LOGICAL_DATE",
    "LOST",
    "RUN_ID",
    "ZOMBIE",
    "DagRunResult",
    "DatabaseUnavailableError",
    "HoldingExecutor",
    "InstantExecutor",
    "MemoryXComs",
    "PostgresDatabase",
    "ScriptedExecutor",
    "SqliteTemplate",
    "Step",
    "TaskResult",
    "TaskRun",
    "collect_events",
    "find_run",
    "insert_run",
    "insert_task_instances",
    "make_workload",
    "migrated_engine",
    "queued_try",
    "register_dag",
    "run_dag_in_process",
    "run_states",
    "run_task",
    "sqlite_url",
    "ti_row",
    "ti_states",
    "ti_states_of_run",
    "wait_for",
    "write_dag_file",
    "xcom_text",
]
