"""The executor registry: an executor's name -> the factory that builds it.

``[core] executor`` names an entry here. The built-ins ``local`` and
``sequential`` import their module only when created (the CLI stays fast);
``celery`` is declared by Windvane's own distribution as a plug-in
(:mod:`windvane.celery`, so core never imports Celery). Plug-ins add executors
through the entry-point group ``windvane.executors`` (see :mod:`windvane.plugins`):
the group is read once, the first time a name is not registered or the names
are listed, and an entry point is imported only when its executor is created.
A factory takes one :class:`ExecutorOptions` and returns an unstarted
:class:`~windvane.core.executors.base.Executor`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

from windvane.core.executors.base import Executor
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.task_api.mailer import SmtpParams
from windvane.errors import ConfigError, PluginError
from windvane.plugins import (
    EXECUTORS_GROUP,
    EntryPointLike,
    EntryPointLoader,
    describe,
    entry_points_of,
    load_entry_point,
)

#: The executors Windvane ships, in the order they are listed.
BUILTIN_EXECUTORS = ("local", "sequential")


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    """What every executor factory is given, from the settings (the CLI maps them in one place)."""

    parallelism: int
    db_url: str
    log_folder: str
    heartbeat_seconds: float
    #: ``[logging] max_log_bytes``: the cap on one try's log file (0: none).
    max_log_bytes: int = 0
    #: ``[executor] task_memory_limit_mib``: the address-space cap of one try (0: none).
    memory_limit_mib: int = 0
    #: ``[executor] outcome_folder``: where workers keep finished tries' outcomes until written
    #: ("": in memory only).
    outcome_folder: str = ""
    #: Where tries find Connections and Variables (``[secrets]``, ``[core] fernet_key``, the
    #: environment's ``WINDVANE_CONN_*``/``WINDVANE_VAR_*``); None: not configured.
    secrets: SecretsConfig | None = None
    #: ``[core] callback_timeout_seconds``: the longest one task callback may run in a try's process.
    callback_timeout_seconds: float = 60.0
    #: ``[smtp]``: the server tasks' ``EmailOperator`` sends through (None: not configured).
    smtp: SmtpParams | None = None
    #: The settings section named like the executor (``[celery]`` for ``celery``) as key -> value;
    #: empty when there is none. Lets a plug-in have settings of its own.
    section: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: ``[database] max_outage_seconds``: how long a worker retries a claim the database refuses.
    max_outage_seconds: float = 300.0
    #: ``[core] process_containment``: what workers install when they start.
    process_containment: str = "auto"
    #: ``[executor] worker_stop_grace_seconds``: how long a stopping worker retries a final write.
    worker_stop_grace_seconds: float = 30.0
    #: ``[executor] tries_per_process``: tries of one DAG file per forked process (local workers).
    tries_per_process: int = 100
    #: ``[executor] max_cached_dag_files``: DAG files a local worker keeps imported.
    max_cached_dag_files: int = 32
    #: ``[executor] send_ahead``: busy local workers get their next try ahead.
    send_ahead: bool = True


#: ``factory(options)`` -> an executor, not started.
ExecutorFactory = Callable[[ExecutorOptions], Executor]


def _local(options: ExecutorOptions) -> Executor:
    from windvane.core.executors.local import LocalExecutor

    return LocalExecutor(
        options.parallelism,
        db_url=options.db_url,
        log_folder=options.log_folder,
        heartbeat_seconds=options.heartbeat_seconds,
        max_log_bytes=options.max_log_bytes,
        memory_limit_mib=options.memory_limit_mib,
        outcome_folder=options.outcome_folder,
        secrets=options.secrets,
        callback_timeout_seconds=options.callback_timeout_seconds,
        smtp=options.smtp,
        max_outage_seconds=options.max_outage_seconds,
        process_containment=options.process_containment,
        stop_grace_seconds=options.worker_stop_grace_seconds,
        tries_per_process=options.tries_per_process,
        max_cached_dag_files=options.max_cached_dag_files,
        send_ahead=options.send_ahead,
    )


def _sequential(options: ExecutorOptions) -> Executor:
    from windvane.core.executors.sequential import SequentialExecutor

    return SequentialExecutor(
        options.parallelism,
        db_url=options.db_url,
        log_folder=options.log_folder,
        heartbeat_seconds=options.heartbeat_seconds,
        secrets=options.secrets,
        callback_timeout_seconds=options.callback_timeout_seconds,
    )


class ExecutorRegistry:
    """Executor names and their factories; plug-ins' entry points are read on first need.

    ``plugins`` lists a group's entry points (``None``: the installed
    distributions); ``builtins=False`` starts empty (for tests).
    """

    def __init__(self, *, plugins: EntryPointLoader | None = None, builtins: bool = True) -> None:
        self._plugins = plugins
        self._factories: dict[str, ExecutorFactory] = {}
        self._entries: dict[str, EntryPointLike] | None = None
        self._loaded: dict[str, ExecutorFactory] = {}
        self._lock = threading.RLock()
        if builtins:
            for name, factory in zip(BUILTIN_EXECUTORS, (_local, _sequential), strict=True):
                self.register(name, factory)

    def register(self, name: str, factory: ExecutorFactory) -> None:
        """Add an executor; a name registered (or declared by a plug-in) already is an error."""
        with self._lock:
            if name in self._factories or name in (self._entries or {}):
                raise ConfigError(f"executor {name!r} is registered already")
            self._factories[name] = factory

    def names(self) -> tuple[str, ...]:
        """Every known name: registered ones in order, then plug-ins' by name."""
        with self._lock:
            return (*self._factories, *self._discovered())

    def resolve(self, name: str) -> str | None:
        """The known name equal to ``name`` ignoring case, or None (plug-ins are read only if needed)."""
        with self._lock:
            for known in self._factories:
                if known.lower() == name.lower():
                    return known
            for known in self._discovered():
                if known.lower() == name.lower():
                    return known
            return None

    def create(self, name: str, options: ExecutorOptions) -> Executor:
        """The executor called ``name``, not started.

        Raises :class:`ConfigError` listing the known names for an unknown one,
        :class:`ExecutorError` when the executor cannot be built (``celery`` without Celery), and
        :class:`PluginError` naming the entry point of a broken plug-in.
        """
        executor = self._factory(name)(options)
        if not isinstance(executor, Executor):
            raise PluginError(
                f"the factory of executor {name!r} returned {type(executor).__name__}, not an Executor"
            )
        return executor

    def _factory(self, name: str) -> ExecutorFactory:
        with self._lock:
            factory = self._factories.get(name)
            if factory is not None:
                return factory
            if name in self._loaded:
                return self._loaded[name]
            entry = self._discovered().get(name)
            if entry is None:
                known = ", ".join(repr(n) for n in self.names())
                raise ConfigError(f"unknown executor {name!r}: expected one of {known}")
            loaded: object = load_entry_point(entry, EXECUTORS_GROUP)
            if not callable(loaded):
                raise PluginError(f"{describe(entry, EXECUTORS_GROUP)} is not a factory: {loaded!r}")
            factory = cast(ExecutorFactory, loaded)
            self._loaded[name] = factory
            return factory

    def _discovered(self) -> dict[str, EntryPointLike]:
        if self._entries is None:
            entries = {entry.name: entry for entry in entry_points_of(EXECUTORS_GROUP, self._plugins)}
            for name, entry in entries.items():
                if name in self._factories:
                    raise PluginError(
                        f"{describe(entry, EXECUTORS_GROUP)} declares executor {name!r}, "
                        "which is registered already"
                    )
            self._entries = entries
        return self._entries


_REGISTRY = ExecutorRegistry()


def register_executor(name: str, factory: ExecutorFactory) -> None:
    """Add an executor to the process's registry (plug-ins usually declare an entry point instead)."""
    _REGISTRY.register(name, factory)


def executor_names() -> tuple[str, ...]:
    """Every executor name ``[core] executor`` accepts, built-ins first."""
    return _REGISTRY.names()


def resolve_executor_name(name: str) -> str | None:
    """The executor name equal to ``name`` ignoring case, or None when there is none."""
    return _REGISTRY.resolve(name)


def create_executor(name: str, options: ExecutorOptions) -> Executor:
    """The executor called ``name``, not started; raises as :meth:`ExecutorRegistry.create` does."""
    return _REGISTRY.create(name, options)
