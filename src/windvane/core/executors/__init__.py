"""Executors: where task tries run, and the registry that builds one from its configured name.

Holds the :class:`Executor` contract (:mod:`.base`), the registry
(:mod:`.registry`), the built-in executors (``sequential``, ``local`` with its
lean worker processes) and what they share (orphan handling, wake-ups).
May import the model, store, forking and worker floors; never the scheduler.
"""

from __future__ import annotations

from windvane.core.executors.base import Executor
from windvane.core.executors.registry import (
    BUILTIN_EXECUTORS,
    ExecutorFactory,
    ExecutorOptions,
    ExecutorRegistry,
    create_executor,
    executor_names,
    register_executor,
    resolve_executor_name,
)
from windvane.core.model.workload import TaskEvent, Workload

__all__ = [
    "BUILTIN_EXECUTORS",
    "Executor",
    "ExecutorFactory",
    "ExecutorOptions",
    "ExecutorRegistry",
    "TaskEvent",
    "Workload",
    "create_executor",
    "executor_names",
    "register_executor",
    "resolve_executor_name",
]
