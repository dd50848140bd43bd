"""What plug-ins may use: the declared extension points of Windvane's core.

A plug-in (an executor, a service beside the scheduler, an observer, tables
of its own) imports from here, not from the floors below: these names keep
their meaning across releases, the modules they live in may move. How a
plug-in is *declared* (entry-point groups and their loader) is in
:mod:`windvane.plugins`.

Executors
    :class:`Executor` is the contract (start, queue, events, wait/wake, end);
    :func:`register_executor`, :func:`executor_names` and :func:`create_executor`
    are the registry ``[core] executor`` is looked up in. A factory takes one
    frozen :class:`ExecutorOptions`; a plug-in declares it in the entry-point
    group ``windvane.executors``.

The work and its outcome
    :class:`Workload` (one try handed to an executor) and :class:`TaskEvent`
    (what the executor reports back: started, finished, lost) carry one
    :class:`TaskInstanceKey`, the identity of a task instance everywhere.

Watching the scheduler
    :class:`SchedulerObserver` hooks run on the scheduler's thread after each
    pass (:class:`LoopStats`, with :class:`PoolUsage` snapshots when asked)
    and at each run and try transition, receiving frozen, serialisable
    :class:`LifecycleEvent` values (:class:`RunCreated`, :class:`RunFinished`,
    :class:`TryScheduled`, :class:`TryQueued`, :class:`TryStarted`,
    :class:`TryFinished`, :class:`TryRescheduled`, :class:`TryLost`, :class:`TryZombie`), and
    :class:`DagQuarantined` when a DAG's own data made a scheduler step fail. An observer
    that raises is logged and counted, never propagated. Observers hear what
    *this* scheduler did, while it runs.

What happened, durably
    The state-change journal is written in the same transaction as every
    state change that matters (a try finishing in any state, a run finishing,
    zombie and timeout failures, clears), by whichever process made it. A
    plug-in that must not miss one (alerting) reads it with a
    :class:`JournalReader` under its own consumer name: :class:`JournalEntry`
    rows in id order, ``advance`` when handled; rows a registered consumer has
    not read are never pruned. :class:`JournalKind` says what an entry records.

Time
    :class:`Clock` is how core reads time (wall clock and monotonic);
    :class:`SystemClock` is the real one. Take a clock, never call
    ``time``/``pendulum.now`` yourself, and tests can hand you a fake.

DAGs
    :class:`SerializedDag` is a DAG as the scheduler sees it: parsed by the
    DAG processor, stored as JSON, no user code.

Secrets backends
    a factory ``factory(config: SecretsConfig) -> SecretsResolver`` declared in the
    entry-point group ``windvane.secrets_backends`` and named in ``[secrets] backends``;
    it returns :class:`Connection` values and Variable texts (see docs/connections.md).
Services
    :class:`Service` is a side loop (alert dispatch, SLA checks) that the
    scheduler's process starts beside the scheduler loop and stops at
    shutdown; a plug-in declares its factory in the entry-point group
    ``windvane.services``.
"""

from __future__ import annotations

import typing

from windvane.core.executors.base import Executor
from windvane.core.executors.registry import (
    ExecutorFactory,
    ExecutorOptions,
    create_executor,
    executor_names,
    register_executor,
)
from windvane.core.model.clock import Clock, SystemClock
from windvane.core.model.connection import Connection
from windvane.core.model.events import (
    LifecycleEvent,
    RunCreated,
    RunFinished,
    TryFinished,
    TryLost,
    TryQueued,
    TryRescheduled,
    TryScheduled,
    TryStarted,
    TryZombie,
)
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.workload import TaskEvent, TaskInstanceKey, Workload
from windvane.core.scheduler.observer import DagQuarantined, LoopStats, PoolUsage, SchedulerObserver
from windvane.core.store.journal import JournalEntry, JournalReader
from windvane.core.store.journal_sql import JournalKind
from windvane.core.task_api.secrets import SecretsResolver

__all__ = [
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


@typing.runtime_checkable
class Service(typing.Protocol):
    """A side loop that runs beside the scheduler loop, in the scheduler's process.

    Threading: :meth:`start` returns promptly (well under a second) after
    starting the service's own thread or loop; the service never runs on
    the caller's thread. :meth:`stop` asks it to finish and waits for it,
    bounded (a few seconds at most); it is idempotent, and harmless when
    :meth:`start` never ran or failed. The runner calls ``start`` on the
    main thread in declaration order before the scheduler loop starts, and
    ``stop`` in reverse order once the loop has ended (Ctrl-C, SIGTERM or a
    failure); a ``stop`` that overruns is abandoned. A service whose
    ``start`` or ``stop`` raises is logged, naming it, and counted: the
    scheduler goes on without it.
    """

    @property
    def name(self) -> str:
        """A short name for logs (``"alert-dispatch"``)."""
        ...

    def start(self) -> None:
        """Start the service's own thread or loop and return."""
        ...

    def stop(self) -> None:
        """Stop it and wait, bounded; calling it again does nothing."""
        ...
