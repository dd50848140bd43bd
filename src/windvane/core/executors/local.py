"""LocalExecutor: ``parallelism`` long-lived worker processes on this machine.

Workers are forked (``multiprocessing`` "fork" context) from the already warm
process at :meth:`LocalExecutor.start`; each runs one try at a time in a
child it forks per try (see :mod:`windvane.core.executors.local_worker`).
Workloads go to idle workers first come, first served; ordering by priority
is the scheduler's job.

:meth:`LocalExecutor.wait` sleeps in ``multiprocessing.connection.wait`` over
the workers' pipes, their process sentinels and a self-pipe that
:meth:`LocalExecutor.wake` writes to. A worker that dies is replaced; the try
it had claimed is recorded as failed (or up for retry) under the same guard as
a normal finish (``state='running' AND try_number``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import Engine

from windvane.core.execution import TryOutcome, failure_state
from windvane.core.executors.base import Executor, TaskEvent, Workload
from windvane.core.executors.local_worker import WorkerConfig, worker_main
from windvane.core.executors.wakeup import WakeupPipe
from windvane.core.states import TaskInstanceState
from windvane.core.store.engine import create_db_engine
from windvane.core.task_runner import DEFAULT_RETRY_DELAY
from windvane.core.try_records import finish_try
from windvane.errors import ExecutorError

log = logging.getLogger(__name__)
#: Workers that die before saying anything, per slot, before the executor gives up.
_MAX_SILENT_DEATHS_PER_SLOT = 3


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    workload: Workload | None = None
    retry_delay: float | None = None
    heard_from: bool = False


class LocalExecutor(Executor):
    """Runs tries in ``parallelism`` forked worker processes (see the module doc)."""

    name = "local"

    def __init__(
        self,
        parallelism: int,
        *,
        db_url: str,
        log_folder: str,
        heartbeat_seconds: float = 5.0,
        engine_factory: Callable[[str], Engine] = create_db_engine,
        hostname: str | None = None,
        timeout_grace_seconds: float = 5.0,
        kill_grace_seconds: float = 5.0,
    ) -> None:
        super().__init__(parallelism)
        self._config = WorkerConfig(
            db_url=db_url,
            log_folder=log_folder,
            hostname=hostname or socket.gethostname(),
            heartbeat_seconds=heartbeat_seconds,
            engine_factory=engine_factory,
            timeout_grace_seconds=timeout_grace_seconds,
            kill_grace_seconds=kill_grace_seconds,
        )
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self._ctx = multiprocessing.get_context("fork")
        self._workers: list[_Worker] = []
        self._pending: deque[Workload] = deque()
        self._events: list[TaskEvent] = []
        self._wakeup: WakeupPipe | None = None
        self._ending = False
        self._closed = False
        self._silent_deaths = 0

    # -- the Executor contract ------------------------------------------
    def start(self) -> None:
        if self._wakeup is not None:
            raise ExecutorError("LocalExecutor.start() was called twice")
        self._wakeup = WakeupPipe()
        for _ in range(self.parallelism):
            self._workers.append(self._spawn())

    def queue(self, workload: Workload) -> None:
        if self._wakeup is None or self._ending:
            raise ExecutorError("LocalExecutor is not running: call start() first, and not after end()")
        self._pending.append(workload)
        self._dispatch()

    def events(self) -> list[TaskEvent]:
        if self._workers:
            self._pump(0.0)
        events, self._events = self._events, []
        return events

    def wait(self, timeout: float) -> None:
        if not self._events and self._workers:
            self._pump(timeout)

    def wake(self) -> None:
        if self._wakeup is not None and not self._closed:
            self._wakeup.wake()

    @property
    def queued_count(self) -> int:
        return len(self._pending)

    @property
    def running_count(self) -> int:
        return sum(1 for w in self._workers if w.workload is not None)

    def end(self, *, graceful: bool = True) -> None:
        """Stop the workers. Graceful: tries already handed to a worker finish (however long
        they take); workloads not handed out yet stay queued in the database. Otherwise the
        running tries are killed and recorded as failed (or up for retry)."""
        if self._wakeup is None or self._ending:
            return
        self._ending = True
        self._pending.clear()
        for worker in self._workers:
            if graceful:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
            else:
                worker.process.terminate()
        deadline = None if graceful else time.monotonic() + self._config.kill_grace_seconds + 10.0
        while self._workers:
            remaining = 1.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                for worker in self._workers:
                    worker.process.kill()
                deadline = None
                remaining = 1.0
            self._pump(min(remaining, 1.0))
        self._closed = True
        self._wakeup.close()
        if self._engine is not None:
            self._engine.dispose()

    # -- workers -----------------------------------------------------------
    def _spawn(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        assert self._wakeup is not None
        inherited: list[Connection | int] = [w.conn for w in self._workers]
        inherited += [parent_end, *self._wakeup.fds]
        process = self._ctx.Process(
            target=worker_main, args=(child_end, self._config, inherited), name="windvane-worker", daemon=True
        )
        process.start()
        child_end.close()
        return _Worker(process=process, conn=parent_end)

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not self._pending:
                return
            if worker.workload is None:
                workload = self._pending.popleft()
                worker.workload, worker.retry_delay = workload, None
                # A dead worker raises here: _pump notices, records the try and replaces it.
                with contextlib.suppress(OSError):
                    worker.conn.send(workload)

    def _pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` for messages, read all of them, handle dead workers."""
        assert self._wakeup is not None
        waitables: list[Any] = [self._wakeup.read_fd]
        for worker in self._workers:
            waitables += [worker.conn, worker.process.sentinel]
        ready = set(wait(waitables, timeout=max(0.0, timeout)))
        if self._wakeup.read_fd in ready:
            self._wakeup.drain()
        for worker in list(self._workers):
            if worker.conn in ready or worker.process.sentinel in ready:
                self._read(worker)
        self._dispatch()

    def _read(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                worker.heard_from = True
                self._silent_deaths = 0
                if message[0] == "running":
                    self._events.append(message[1])
                    worker.retry_delay = message[2]
                else:
                    self._events.append(message[1])
                    worker.workload = None
        except (EOFError, OSError):
            self._on_death(worker)
            return
        if not worker.process.is_alive():
            self._on_death(worker)

    def _on_death(self, worker: _Worker) -> None:
        worker.process.join(timeout=5.0)
        worker.conn.close()
        self._workers.remove(worker)
        code = worker.process.exitcode
        if worker.workload is not None:
            self._events.append(self._fail_orphan(worker.workload, worker.retry_delay, code))
        if not worker.heard_from and worker.workload is None:  # it failed to start at all
            self._silent_deaths += 1
        if self._silent_deaths > _MAX_SILENT_DEATHS_PER_SLOT * self.parallelism:
            raise ExecutorError(
                f"LocalExecutor workers keep dying before running anything (last exit code {code}); "
                "see the log of the process that started them"
            )
        if not self._ending:
            log.warning(
                "LocalExecutor worker pid %s died (exit code %s); starting another", worker.process.pid, code
            )
            self._workers.append(self._spawn())

    def _fail_orphan(self, workload: Workload, delay: float | None, exit_code: int | None) -> TaskEvent:
        how = (
            f"was killed by signal {-exit_code}"
            if exit_code is not None and exit_code < 0
            else (f"exited with code {exit_code}")
        )
        error = f"the worker process running task {workload.task_id!r} {how} during the try"
        state = failure_state(workload.try_number, workload.max_tries)
        retry = timedelta(seconds=delay) if delay is not None else DEFAULT_RETRY_DELAY
        outcome = TryOutcome(
            state=state,
            error=error,
            next_retry_delay=retry if state is TaskInstanceState.UP_FOR_RETRY else None,
        )
        if self._engine is None:
            self._engine = self._engine_factory(self._config.db_url)
        try:
            event = finish_try(self._engine, workload, outcome)
        except Exception as exc:
            log.exception("could not record the failure of %s.%s", workload.dag_id, workload.task_id)
            return dataclasses.replace(_blank_event(workload), error=f"{error}; recording it failed: {exc}")
        if event.state is None:
            return dataclasses.replace(event, error=f"{error}, before it claimed the try")
        return event


def _blank_event(workload: Workload) -> TaskEvent:
    return TaskEvent(
        ti_id=workload.ti_id,
        dag_run_id=workload.dag_run_id,
        dag_id=workload.dag_id,
        task_id=workload.task_id,
        try_number=workload.try_number,
        state=None,
        at=time.time(),
    )
