"""An executor that takes workloads and runs none of them.

For tests of what happens *around* an executor: a registry creating one, a
scheduler whose queued tries are left for a worker to run after it stops (the
workloads are kept in :attr:`HoldingExecutor.workloads`), a scheduler that
must not run anything.
"""

from __future__ import annotations

from windvane.core.executors.base import Executor
from windvane.core.model.workload import TaskEvent, Workload


class HoldingExecutor(Executor):
    """Keeps every queued workload in :attr:`workloads`; reports no event, frees no slot."""

    name = "holding"

    def __init__(self, parallelism: int = 4) -> None:
        super().__init__(parallelism)
        self.workloads: list[Workload] = []

    def start(self) -> None:
        pass

    def queue(self, workload: Workload) -> None:
        self.workloads.append(workload)

    def events(self) -> list[TaskEvent]:
        return []

    def wait(self, timeout: float) -> None:
        pass

    def wake(self) -> None:
        pass

    @property
    def queued_count(self) -> int:
        return 0

    @property
    def running_count(self) -> int:
        return 0

    def end(self, *, graceful: bool = True) -> None:
        pass
