"""The executor contract: how the scheduler hands out task tries and hears back.

The scheduler queues :class:`Workload` objects and drains :class:`TaskEvent`
objects (both in :mod:`windvane.core.model.workload`); it never learns how or where
a try runs. Executors must let the
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

from windvane.core.model.workload import TaskEvent, Workload


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

    def take_db_errors(self) -> int:
        """Transient database errors this executor's workers rode out since the last call (the
        scheduler counts them; 0 for executors whose workers report elsewhere or run in-process)."""
        return 0

    def take_try_host_retirements(self) -> dict[str, int]:
        """Try hosts this executor's workers retired since the last call, by reason (the scheduler
        counts them; empty for executors without try hosts or whose workers report elsewhere)."""
        return {}

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
