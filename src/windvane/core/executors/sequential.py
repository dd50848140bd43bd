"""SequentialExecutor: one try at a time, run to completion inside :meth:`wait`.

For debugging. Each try still runs in a forked child (a crash or ``sys.exit``
in a task does not take the caller down), but the caller's thread blocks until
it ends. DAG files are imported into the calling process.
"""

from __future__ import annotations

import socket
from collections import deque

from windvane.core.executors.base import Executor
from windvane.core.executors.wakeup import WakeupPipe
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.raw import RawDb
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.runner import run_workload
from windvane.core.worker.secrets_setup import install_secrets
from windvane.errors import ExecutorError


class SequentialExecutor(Executor):
    """Parallelism 1; :meth:`wait` runs the next queued workload in the calling thread."""

    name = "sequential"

    def __init__(
        self,
        parallelism: int = 1,
        *,
        db_url: str,
        log_folder: str,
        heartbeat_seconds: float = 5.0,
        hostname: str | None = None,
        timeout_grace_seconds: float = 5.0,
        kill_grace_seconds: float = 5.0,
        secrets: SecretsConfig | None = None,
        callback_timeout_seconds: float = 60.0,
    ) -> None:
        super().__init__(1)  # whatever was asked: that is the point of this executor
        self._db_url = db_url
        self._log_folder = log_folder
        self._heartbeat_seconds = heartbeat_seconds
        self._hostname = hostname or socket.gethostname()
        self._timeout_grace = timeout_grace_seconds
        self._kill_grace = kill_grace_seconds
        self._callback_timeout = callback_timeout_seconds
        self._db: RawDb | None = None
        self._loader = DagLoader()
        self._pending: deque[Workload] = deque()
        self._events: list[TaskEvent] = []
        self._running: Workload | None = None
        self._wakeup: WakeupPipe | None = None
        self._secrets = secrets

    def start(self) -> None:
        if self._wakeup is not None:
            raise ExecutorError("SequentialExecutor.start() was called twice")
        self._db = RawDb(self._db_url)
        self._wakeup = WakeupPipe()
        install_secrets(self._secrets)  # tries run in children forked from this process

    def queue(self, workload: Workload) -> None:
        if self._wakeup is None:
            raise ExecutorError("SequentialExecutor is not running: call start() first")
        self._pending.append(workload)

    def events(self) -> list[TaskEvent]:
        events, self._events = self._events, []
        return events

    def wait(self, timeout: float) -> None:
        """Run the next queued workload to completion if there is one, else sleep."""
        if self._events:
            return
        if self._pending:
            self._run(self._pending.popleft())
        elif self._wakeup is not None:
            self._wakeup.wait(timeout)

    def wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.wake()

    @property
    def queued_count(self) -> int:
        return len(self._pending)

    @property
    def running_count(self) -> int:
        return 0 if self._running is None else 1

    def end(self, *, graceful: bool = True) -> None:
        """Graceful or not, nothing is running between calls; queued workloads are dropped
        (they stay queued in the database)."""
        self._pending.clear()
        if self._wakeup is not None:
            self._wakeup.close()
            self._wakeup = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def _run(self, workload: Workload) -> None:
        assert self._db is not None
        self._running = workload
        try:
            event = run_workload(
                workload,
                db=self._db,
                loader=self._loader,
                log_folder=self._log_folder,
                hostname=self._hostname,
                heartbeat_seconds=self._heartbeat_seconds,
                timeout_grace_seconds=self._timeout_grace,
                kill_grace_seconds=self._kill_grace,
                on_running=self._events.append,
                callback_timeout_seconds=self._callback_timeout,
            )
        finally:
            self._running = None
        self._events.append(event)
