"""The executor contract: how the scheduler hands out task tries and hears back.

The scheduler queues :class:`Workload` objects and drains :class:`TaskEvent`
objects; it never learns how or where a try runs. Executors must let the
scheduler *sleep until something happens*: :meth:`Executor.wait` blocks until
an event may be ready, :meth:`Executor.wake` interrupts it from another thread.

Ownership of the database: a worker claims a try with a guarded update
(``state='queued' AND try_number=? AND queued_by_job_id=?``) before running it,
and writes the final state, XComs and downstream skips in one transaction. A
try whose claim fails is not run. That guard is what makes a try run at most
once even when a scheduler dies and another re-queues its work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Workload:
    """One try of one task instance, with everything a worker needs to run it."""

    ti_id: int
    dag_run_id: int
    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    max_tries: int
    job_id: int
    fileloc: str
    run_type: str
    logical_date: str
    data_interval_start: str | None
    data_interval_end: str | None
    conf: dict[str, Any] = field(default_factory=dict)
    map_index: int = -1
    queue: str = "default"
    pool: str = "default_pool"
    priority_weight: int = 1
    execution_timeout: float | None = None
    log_path: str = ""


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """Something that happened to a try: it started, or it reached a final state.

    ``state`` is ``running`` for a start; otherwise one of ``success``,
    ``failed``, ``up_for_retry``, ``skipped`` — already written to the DB by the
    worker. ``skipped_task_ids`` are downstream tasks the try skipped
    (branching), also already written. ``state=None`` means the claim failed
    and the try did not run.
    """

    ti_id: int
    dag_run_id: int
    dag_id: str
    task_id: str
    try_number: int
    state: str | None
    skipped_task_ids: tuple[str, ...] = ()
    at: float = 0.0
    error: str | None = None
    next_retry_at: float | None = None


class Executor(ABC):
    """Runs workloads somewhere and reports :class:`TaskEvent` objects back."""

    name: str = "base"

    def __init__(self, parallelism: int) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be >= 1")
        self.parallelism = parallelism

    @abstractmethod
    def start(self) -> None:
        """Start workers; called once before the first :meth:`queue`."""

    @abstractmethod
    def queue(self, workload: Workload) -> None:
        """Accept a workload; must not block. The scheduler respects :attr:`open_slots`."""

    @abstractmethod
    def events(self) -> list[TaskEvent]:
        """Every event that arrived since the last call (never blocks)."""

    @abstractmethod
    def wait(self, timeout: float) -> None:
        """Block until an event may be ready, :meth:`wake` is called, or ``timeout`` passes."""

    @abstractmethod
    def wake(self) -> None:
        """Make a blocked :meth:`wait` return now (thread- and signal-safe)."""

    @property
    @abstractmethod
    def queued_count(self) -> int:
        """Workloads accepted but not started."""

    @property
    @abstractmethod
    def running_count(self) -> int:
        """Workloads running now."""

    @property
    def open_slots(self) -> int:
        return max(0, self.parallelism - self.queued_count - self.running_count)

    @abstractmethod
    def end(self, *, graceful: bool = True) -> None:
        """Stop: with ``graceful`` let running tries finish, otherwise kill them."""
