"""Executors: where task tries run. :func:`create_executor` picks one by its configured name."""

from __future__ import annotations

from windvane.core.executors.base import Executor
from windvane.core.model.workload import TaskEvent, Workload
from windvane.errors import ConfigError, ExecutorError

__all__ = ["EXECUTOR_NAMES", "Executor", "TaskEvent", "Workload", "create_executor"]

#: Names accepted by :func:`create_executor` (``[core] executor``).
EXECUTOR_NAMES = ("local", "sequential", "celery")


def create_executor(
    name: str, *, parallelism: int, db_url: str, log_folder: str, heartbeat_seconds: float
) -> Executor:
    """The executor called ``name``; not started yet.

    Raises :class:`ExecutorError` for ``celery`` (named, not available yet) and
    :class:`ConfigError` listing the options for an unknown name.
    """
    if name == "local":
        from windvane.core.executors.local import LocalExecutor

        return LocalExecutor(
            parallelism, db_url=db_url, log_folder=log_folder, heartbeat_seconds=heartbeat_seconds
        )
    if name == "sequential":
        from windvane.core.executors.sequential import SequentialExecutor

        return SequentialExecutor(
            parallelism, db_url=db_url, log_folder=log_folder, heartbeat_seconds=heartbeat_seconds
        )
    if name == "celery":
        raise ExecutorError("executor 'celery' is not available yet: use 'local' or 'sequential'")
    raise ConfigError(
        f"unknown executor {name!r}: expected one of " + ", ".join(repr(n) for n in EXECUTOR_NAMES)
    )
