"""LocalExecutor: ``parallelism`` long-lived worker processes on this machine.

Each worker is started once — ``initial_workers`` at :meth:`LocalExecutor.start`,
the others when a workload finds every worker busy, at most
``initial_workers`` starting at a time — as a fresh lean
interpreter (``subprocess`` with one inherited socket, see
:mod:`windvane.core.executors.worker_process` and
:mod:`windvane.core.executors.local_worker`) and runs one try at a time in a
child it forks per try. Why not ``multiprocessing``: "fork" would carry this
process (SQLAlchemy, the scheduler: ~60 MB) into every per-try fork, and
"spawn"/"forkserver" re-import the parent's ``__main__`` (the CLI, a test
runner, a script importing SQLAlchemy) into each worker; a plain command
line imports exactly what the worker needs. Workloads go to idle workers,
those that said they are ready first, first come, first served; ordering by
priority is the scheduler's job. Starting workers a few at a time matters on a small machine:
a restarted scheduler facing a backlog used to start ``parallelism``
interpreters at once, each bound to a workload, and its first try waited until
all of them had shared the CPU (up to 28 s on 2 busy cores with 16 workers).

:meth:`LocalExecutor.wait` sleeps in a ``selectors`` selector over
the workers' sockets, their pidfds (Linux; elsewhere a dead worker's socket
reaches end of file) and a self-pipe that :meth:`LocalExecutor.wake` writes
to, all registered once. A worker that dies is replaced; the
try it had claimed is recorded as failed (or up for retry) under the same
guard as a normal finish (:mod:`windvane.core.executors.orphans`).

With ``send_ahead`` (``[executor] send_ahead``; on by default), when every slot
has a busy worker, each may be sent up to :data:`AHEAD` next workloads ahead: its
current try's finish claims the first in the same transaction, so a no-op try costs one
commit on the worker's side instead of two, and the worker does not wait for this process
between tries. A try still running after half a second hands its followers back
(they go to the next idle worker). The scheduler may then queue up to
``(1 + AHEAD) * parallelism`` tries (:attr:`open_slots` counts the room ahead too, unlike the
executor contract's plain ``parallelism``); at most ``parallelism`` run. A
follower of a worker that died goes back to the queue unless the worker had
claimed it (then it is failed as the worker's own try).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import selectors
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from windvane.core.executors.base import Executor
from windvane.core.executors.local_worker import DEFAULT_TRIES_PER_PROCESS, WorkerConfig
from windvane.core.executors.orphans import record_orphan
from windvane.core.executors.wakeup import WakeupPipe
from windvane.core.executors.worker_process import WorkerProcess
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.raw import RawDb
from windvane.core.task_api.mailer import SmtpParams
from windvane.core.worker.runner import FOLLOW_HOLD_SECONDS
from windvane.errors import ExecutorError

log = logging.getLogger(__name__)
#: Workers that die before saying anything, per slot, before the executor gives up.
_MAX_SILENT_DEATHS_PER_SLOT = 3


#: Workloads sent ahead to one busy worker at most: with one, a worker that finishes a no-op try
#: before the scheduler's next pass queued its follower claims its next try alone (a commit more);
#: two cover a pass (issue 15: commits per try 2.5 -> ~2 on PostgreSQL).
AHEAD = 2


def _same_try(a: Workload | None, b: Workload) -> bool:
    return a is not None and a.key == b.key and a.try_number == b.try_number


def _drop(follows: deque[Workload], workload: Workload) -> None:
    """Forget ``workload`` (handed back) among ``follows``."""
    for i, follow in enumerate(follows):
        if follow.key == workload.key and follow.try_number == workload.try_number:
            del follows[i]
            return


@dataclass(eq=False)
class _Worker:
    process: WorkerProcess
    workload: Workload | None = None
    retry_delay: float | None = None
    heard_from: bool = False
    #: It warmed up and takes work (its ``("ready",)`` arrived).
    ready: bool = False
    #: Workloads sent ahead while it was busy (at most :data:`AHEAD`): its next tries, in order
    #: (see :mod:`local_worker`).
    follows: deque[Workload] = field(default_factory=deque)
    #: ``time.monotonic()`` when its current workload became its own.
    busy_since: float = 0.0


class LocalExecutor(Executor):
    """Runs tries in ``parallelism`` lean worker processes (see the module doc)."""

    name = "local"

    def __init__(
        self,
        parallelism: int,
        *,
        db_url: str,
        log_folder: str,
        heartbeat_seconds: float = 5.0,
        hostname: str | None = None,
        timeout_grace_seconds: float = 5.0,
        kill_grace_seconds: float = 5.0,
        initial_workers: int = 2,
        max_log_bytes: int = 0,
        memory_limit_mib: int = 0,
        outcome_folder: str = "",
        secrets: SecretsConfig | None = None,
        callback_timeout_seconds: float = 60.0,
        smtp: SmtpParams | None = None,
        max_outage_seconds: float = 300.0,
        process_containment: str = "auto",
        stop_grace_seconds: float = 30.0,
        tries_per_process: int = DEFAULT_TRIES_PER_PROCESS,
        max_cached_dag_files: int = 32,
        send_ahead: bool = True,
    ) -> None:
        super().__init__(parallelism)
        #: Busy workers may be sent their next workload ahead (then ``2 * parallelism`` tries can
        #: be queued or running, at most ``parallelism`` running).
        self.send_ahead = send_ahead
        #: Workers started by :meth:`start`; more start when work waits, up to ``parallelism``.
        self.initial_workers = max(1, initial_workers)
        self._config = WorkerConfig(
            db_url=db_url,
            log_folder=log_folder,
            hostname=hostname or socket.gethostname(),
            heartbeat_seconds=heartbeat_seconds,
            timeout_grace_seconds=timeout_grace_seconds,
            kill_grace_seconds=kill_grace_seconds,
            max_log_bytes=max_log_bytes,
            memory_limit_mib=memory_limit_mib,
            outcome_folder=outcome_folder,
            secrets=secrets,
            callback_timeout_seconds=callback_timeout_seconds,
            smtp=smtp,
            max_outage_seconds=max_outage_seconds,
            process_containment=process_containment,
            stop_grace_seconds=stop_grace_seconds,
            tries_per_process=tries_per_process,
            max_cached_dag_files=max_cached_dag_files,
            executor_pid=0,  # these three are set when a worker starts (see _spawn)
            sys_path=(),
        )
        self._db: RawDb | None = None
        #: Write transactions committed by the workers (and by this executor for dead workers).
        self.db_commits = 0
        #: SQL statements run by the workers (this process's own: ``Tx.executed``).
        self.db_statements = 0
        #: Transient database errors the workers rode out (see :meth:`take_db_errors`).
        self.db_transient_errors = 0
        self._db_errors_taken = 0
        #: Try hosts the workers retired, by reason, not yet taken (see :meth:`take_try_host_retirements`).
        self._retirements: dict[str, int] = {}
        self._workers: list[_Worker] = []
        self._pending: deque[Workload] = deque()
        self._events: list[TaskEvent] = []
        self._wakeup: WakeupPipe | None = None
        #: The wakeup pipe, and each worker's socket and pidfd (their data: the worker).
        self._selector = selectors.DefaultSelector()
        self._ending = False
        self._closed = False
        self._silent_deaths = 0

    # -- the Executor contract ------------------------------------------
    def start(self) -> None:
        if self._wakeup is not None:
            raise ExecutorError("LocalExecutor.start() was called twice")
        self._wakeup = WakeupPipe()
        self._selector.register(self._wakeup.read_fd, selectors.EVENT_READ, None)
        # Start a few workers now and the rest on demand: `parallelism` fresh interpreters at
        # once would cost seconds of CPU on a small machine before the first try could start.
        for _ in range(min(self.parallelism, self.initial_workers)):
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

    def take_db_errors(self) -> int:
        taken, self._db_errors_taken = (
            self.db_transient_errors - self._db_errors_taken,
            self.db_transient_errors,
        )
        return taken

    def take_try_host_retirements(self) -> dict[str, int]:
        taken, self._retirements = self._retirements, {}
        return taken

    def wait(self, timeout: float) -> None:
        if not self._events and self._workers:
            self._pump(timeout)

    def wake(self) -> None:
        if self._wakeup is not None and not self._closed:
            self._wakeup.wake()

    @property
    def queued_count(self) -> int:
        return len(self._pending) + sum(len(w.follows) for w in self._workers)

    @property
    def open_slots(self) -> int:
        """Room for ``parallelism`` running tries and, sending ahead, :data:`AHEAD` next tries per
        worker."""
        room = self.parallelism * (1 + AHEAD if self.send_ahead else 1)
        return max(0, room - self.queued_count - self.running_count)

    @property
    def running_count(self) -> int:
        return sum(1 for w in self._workers if w.workload is not None)

    @property
    def worker_count(self) -> int:
        """Worker processes alive now (grows from ``initial_workers`` to ``parallelism``)."""
        return len(self._workers)

    def end(self, *, graceful: bool = True) -> None:
        """Stop the workers. Graceful: the try each worker is running finishes (however long it
        takes); workloads not handed out yet, and those sent ahead to a busy worker and not started
        (handed back, a claim made with the last finish given back), stay queued in the database
        for the next scheduler. Otherwise the running tries are killed and recorded as failed (or
        up for retry)."""
        if self._wakeup is None or self._ending:
            return
        self._ending = True
        self._pending.clear()
        for worker in self._workers:
            if graceful:
                with contextlib.suppress(OSError):
                    worker.process.conn.send(None)
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
        self._selector.close()
        self._wakeup.close()
        if self._db is not None:
            self._db.close()

    # -- workers -----------------------------------------------------------
    def _spawn(self) -> _Worker:
        config = dataclasses.replace(
            self._config,
            executor_pid=os.getpid(),
            sys_path=tuple(sys.path),
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        worker = _Worker(WorkerProcess(config))
        self._selector.register(worker.process.conn, selectors.EVENT_READ, worker)
        if worker.process.sentinel is not None:
            self._selector.register(worker.process.sentinel, selectors.EVENT_READ, worker)
        return worker

    def _dispatch(self) -> None:
        # Ready workers first; a starting one takes a workload too (it runs it once warm).
        for worker in sorted(self._workers, key=lambda w: not w.ready):
            if not self._pending:
                return
            if worker.workload is None:
                self._hand(worker, self._pending.popleft())
        starting = sum(1 for w in self._workers if not w.ready)
        while self._pending and starting < self.initial_workers and len(self._workers) < self.parallelism:
            if self._ending:
                return
            worker = self._spawn()
            self._workers.append(worker)
            self._hand(worker, self._pending.popleft())
            starting += 1
        if not self.send_ahead or self._ending or len(self._workers) < self.parallelism:
            return
        for worker in self._workers:  # every slot has a busy worker: send next tries ahead
            if not self._pending:
                return
            young = time.monotonic() - worker.busy_since < FOLLOW_HOLD_SECONDS  # else it hands back
            while self._pending and worker.ready and worker.workload is not None and young:
                if len(worker.follows) >= AHEAD:
                    break
                follow = self._pending.popleft()
                worker.follows.append(follow)
                with contextlib.suppress(OSError):  # a dead worker: _pump notices
                    worker.process.conn.send(follow)

    def _hand(self, worker: _Worker, workload: Workload) -> None:
        worker.workload, worker.retry_delay, worker.busy_since = workload, None, time.monotonic()
        # A dead worker raises here: _pump notices, records the try and replaces it.
        with contextlib.suppress(OSError):
            worker.process.conn.send(workload)

    def _pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` for messages, read all of them, handle dead workers."""
        assert self._wakeup is not None
        ready: list[_Worker] = []
        for key, _ in self._selector.select(max(0.0, timeout)):
            if key.data is None:
                self._wakeup.drain()
            elif key.data not in ready:
                ready.append(key.data)
        for worker in ready:
            if worker in self._workers:
                self._read(worker)
        self._dispatch()

    def _read(self, worker: _Worker) -> None:
        conn = worker.process.conn
        handed_back: list[Workload] = []
        try:
            while conn.poll():
                message = conn.recv()
                worker.heard_from = True
                self._silent_deaths = 0
                if message[0] == "ready":
                    worker.ready = True
                elif message[0] == "running":
                    self._events.append(message[1])
                    worker.retry_delay = message[2]
                elif message[0] == "returned":  # a workload sent ahead, handed back unstarted
                    if _same_try(worker.workload, message[1]):  # claimed with a finish, then stopped
                        worker.workload, worker.retry_delay = None, None
                    else:
                        _drop(worker.follows, message[1])
                    if not self._ending:
                        handed_back.append(message[1])
                else:
                    self._events.append(message[1])
                    self.db_commits += message[2]
                    self.db_statements += message[3]
                    self.db_transient_errors += message[4]
                    for reason, count in message[5].items():
                        self._retirements[reason] = self._retirements.get(reason, 0) + count
                    # What was sent ahead is its try now (claimed with that finish, or next read).
                    worker.workload = worker.follows.popleft() if worker.follows else None
                    worker.retry_delay = None
                    worker.busy_since = time.monotonic()
        except (EOFError, OSError):
            self._pending.extendleft(reversed(handed_back))
            self._on_death(worker)
            return
        self._pending.extendleft(reversed(handed_back))  # first in the queue again, in their order
        if worker.process.exitcode is not None:
            self._on_death(worker)

    def _on_death(self, worker: _Worker) -> None:
        self._selector.unregister(worker.process.conn)
        if worker.process.sentinel is not None:
            self._selector.unregister(worker.process.sentinel)
        code = worker.process.reap(timeout=5.0)
        self._workers.remove(worker)
        if worker.workload is not None:
            self._events.append(self._fail_orphan(worker.workload, worker.retry_delay, code))
        requeue = []
        for follow in worker.follows:  # the first claimed with a finish it never reported, or none
            event = self._fail_orphan(follow, None, code)
            if event.state is not None:
                self._events.append(event)
            elif not self._ending:
                requeue.append(follow)
        self._pending.extendleft(reversed(requeue))
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
        if self._db is None:
            self._db = RawDb(self._config.db_url)
        commits = self._db.commits
        event = record_orphan(self._db, workload, delay, exit_code)
        self.db_commits += self._db.commits - commits
        return event
