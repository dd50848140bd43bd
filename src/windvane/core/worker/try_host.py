"""Several tries of one DAG file in one forked process: the *try host* (``[executor] tries_per_process``).

A fork per try costs the worker and the child ~0.1 ms of CPU per MiB the worker holds (page
tables copied, pages copied on write, all of it torn down at exit): 3-5 ms for a lean worker, far
more than a no-op task. With ``tries_per_process`` above 1 the worker forks a host once and hands
it tries of the same DAG file version, one at a time, up to that many; each try still runs in a
process other than the worker's, under the same supervision (``execution_timeout``, heartbeats,
the log cap, SIGTERM on a stopping worker, the memory limit).

:class:`TryHosts` is the worker's side: it forks the host for a file version (the DAG file's path
and the worker loader's import count: a re-imported or evicted file gets a new host), sends it
each try's :class:`TryRequest` over a pipe and returns a
:meth:`~windvane.core.forking.handle.ForkedChild.host_try` handle for
:func:`~windvane.core.forking.supervise.supervise`. :func:`serve` is the host's loop: each try
gets a fresh copy of its task (rendering fields and ``self.x = ...`` in ``execute`` never reach the
next try), its own log file and context, and the outcome goes back prefixed with whether the host
takes another try.

This is the default (``tries_per_process = 100``): a fork per try costs ~3x the CPU of a no-op
try run here (issue 15, ``bench/b12_local.py``), and forking each try from the host instead (a
*template* fork) saves only ~15 % of that. A try still gets a process of its own (a fork of the
worker) when its task is ``isolated``, when tries have a memory limit, and with ``[core]
process_containment = "cgroup"`` (:func:`~windvane.core.executors.local_worker.uses_try_hosts`).

What tries of one host share: the DAG file's module (the objects its globals point to, as earlier
tries left them), modules imported while running, caches. The host retires, after reporting, when
it reached its quota or a try left a trace that could change the next one: a global of the DAG
file rebound, added or deleted, a thread still running, a process it started still alive (the host
is a subreaper, so orphaned descendants are its children), the working directory or ``os.environ``
changed. A try that ends the process (``sys.exit``, a crash,
a kill, a timeout) fails alone, as with a fork per try; the next try gets a new host.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import pickle
import signal
import struct
import sys
import threading
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import NoReturn

from windvane.core.forking.child import RESET_SIGNALS, child_run, write_result
from windvane.core.forking.ending import ChildEnd
from windvane.core.forking.handle import ForkedChild, reap_exited
from windvane.core.forking.subreaper import become_subreaper, end_descendants
from windvane.core.forking.sweep import sweep_session
from windvane.core.model.outcome import TryOutcome, failure_state
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import Workload
from windvane.core.store.try_claim import Claim
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.inputs import jinja_env_for, run_inputs_for
from windvane.core.worker.task_child import ChildJob, child_main

log = logging.getLogger(__name__)

_FRAME = struct.Struct("!I")
#: The first byte of each result: the host takes another try, or it retires.
KEEP, RETIRE = b"K", b"R"


@dataclass(frozen=True, slots=True)
class TryRequest:
    """What the host needs to run one try (small and picklable: the DAG is its own copy)."""

    workload: Workload
    claim: Claim
    log_path: str
    db_url: str
    hostname: str
    callback_timeout: float
    #: How long a try with end callbacks asks the database whether it still holds its task
    #: instance before running them (0: never asks); as :attr:`ChildJob.claim_check_seconds`.
    claim_check_seconds: float = 0.0


def child_job(request: TryRequest, loader: DagLoader) -> ChildJob:
    """The :class:`ChildJob` of ``request`` from the DAGs ``loader`` holds, with a copy of the task."""
    workload, claim = request.workload, request.claim
    dag = loader.get_dag(workload.fileloc, workload.dag_id)
    task = copy.copy(dag.get_task(workload.task_id))
    try:
        run = run_inputs_for(
            workload,
            run_start_date=claim.run_start_date,
            prev_data_interval_start_success=claim.prev_data_interval_start_success,
            prev_data_interval_end_success=claim.prev_data_interval_end_success,
        )
    except Exception:  # the try fails on it, visibly (run_job builds it again and reports)
        run = None
    return ChildJob(
        workload=workload,
        dag=dag,
        task=task,
        log_path=request.log_path,
        db_url=request.db_url,
        hostname=request.hostname,
        prev_data_interval_start_success=claim.prev_data_interval_start_success,
        prev_data_interval_end_success=claim.prev_data_interval_end_success,
        run_start_date=claim.run_start_date,
        jinja_env=jinja_env_for(dag),
        run=run,
        first_poke_at=claim.first_poke_at,
        reschedule_count=claim.reschedule_count,
        callback_timeout=request.callback_timeout,
        claim_check_seconds=request.claim_check_seconds,
    )


@dataclass(slots=True)
class _Host:
    key: tuple[str, int]
    pid: int
    request_fd: int
    result_fd: int
    exit_fd: int | None
    served: int = 0


class TryHosts:
    """The worker's try host (at most one alive), see the module doc."""

    def __init__(
        self,
        loader: DagLoader,
        *,
        tries_per_process: int,
        memory_limit_bytes: int = 0,
        kill_grace: float = 5.0,
    ) -> None:
        if tries_per_process < 2:
            raise ValueError("a try host serves at least 2 tries (1 is a fork per try)")
        self._loader = loader
        self.tries_per_process = tries_per_process
        self._memory_limit = memory_limit_bytes
        self._kill_grace = kill_grace
        self._host: _Host | None = None
        #: Hosts forked so far, and tries they ran.
        self.forks = 0
        self.tries = 0

    @property
    def host_pid(self) -> int | None:
        return None if self._host is None else self._host.pid

    def start(self, request: TryRequest, *, deadline_seconds: float | None) -> ForkedChild:
        """Hand ``request`` to the host of its DAG file version (forked now if there is none);
        the handle to :func:`~windvane.core.forking.supervise.supervise`."""
        key = (os.path.abspath(request.workload.fileloc), self._loader.imports)
        if self._host is not None and self._host.key != key:
            self.retire()
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        for _attempt in range(2):
            if self._host is None:
                self._host = self._fork(key)
            try:
                _write_all(self._host.request_fd, _FRAME.pack(len(data)) + data)
                break
            except OSError:  # the host died while idle: a new one
                self.retire()
        else:  # pragma: no cover - a host that cannot take one request twice in a row
            raise OSError("the try host died before it could take the try")
        host = self._host
        assert host is not None
        host.served += 1
        self.tries += 1
        return ForkedChild.host_try(
            host.pid,
            host.result_fd,
            host.exit_fd,
            deadline_seconds=deadline_seconds,
            kill_grace_seconds=self._kill_grace,
        )

    def finished(self, child: ForkedChild, end: ChildEnd) -> ChildEnd:
        """After :func:`supervise` returned ``end`` for ``child``: the end as the runner reads it
        (the payload without the host's flag); the host is retired if it asked to, or forgotten
        if it ended during the try."""
        host = self._host
        flag = b""
        if end.payload is not None:
            flag = end.payload[:1]
            end = replace(end, payload=end.payload[1:])
        if host is None:
            return end
        if child.read_fd == -1:  # ``end()`` closed the host's descriptors: it ended, or is ending
            self._forget()
        elif flag != KEEP or host.served >= self.tries_per_process:
            self.retire()
        return end

    def retire(self) -> None:
        """Stop the host between tries: it reads the end of its requests and exits; what it left
        in its session is ended."""
        host, self._host = self._host, None
        if host is None:
            return
        os.close(host.request_fd)
        os.close(host.result_fd)
        if host.exit_fd is not None:
            os.close(host.exit_fd)
        sweep_session(host.pid, self._kill_grace, ignore=host.pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(host.pid, 0)

    def _forget(self) -> None:
        """The host ended during a try (its handle closed its descriptors and reaps it)."""
        host, self._host = self._host, None
        if host is not None:
            with contextlib.suppress(OSError):
                os.close(host.request_fd)

    def close(self) -> None:
        self.retire()

    def _fork(self, key: tuple[str, int]) -> _Host:
        reap_exited()
        for stream in (sys.stdout, sys.stderr):  # or the host would repeat buffered output
            with contextlib.suppress(Exception):
                stream.flush()
        request_read, request_write = os.pipe()
        result_read, result_write = os.pipe()
        os.set_blocking(result_read, False)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the host; reports through its pipe
            os.close(request_write)
            loader, limit, quota, grace = (
                self._loader,
                self._memory_limit,
                self.tries_per_process,
                self._kill_grace,
            )
            child_run(
                lambda: serve(loader, request_read, result_write, quota, sweep_grace=grace),
                result_read,
                result_write,
                parent,
                memory_limit_bytes=limit,
            )
        os.close(request_read)
        os.close(result_write)
        self.forks += 1
        return _Host(key, pid, request_write, result_read, _pidfd(pid))


def serve(
    loader: DagLoader, request_fd: int, result_fd: int, quota: int, *, sweep_grace: float = 5.0
) -> NoReturn:
    """The host's loop (in the forked host): run each request's try, report its outcome with
    :data:`KEEP` or :data:`RETIRE`; exit at the end of the requests or after retiring, having
    ended every descendant (SIGTERM, ``sweep_grace`` seconds, SIGKILL): what a try left, in a
    session of its own or not, must not outlive the host nor fall to the worker."""
    become_subreaper()
    threads, cwd, environ = threading.active_count(), os.getcwd(), dict(os.environ)
    handlers = {signum: signal.getsignal(signum) for signum in RESET_SIGNALS}
    served = 0
    while True:
        request = _read_request(request_fd)
        if request is None:
            break
        try:
            job = child_job(request, loader)
        except Exception as exc:  # the file changed under the host and no longer loads: fail, retire
            write_result(result_fd, RETIRE + _unloadable(request, exc))
            break
        module = loader.module_globals(request.workload.fileloc)
        before = None if module is None else dict(module)
        payload = child_main(job)
        served += 1
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        keep = served < quota and _same_globals(module, before) and _clean(threads, cwd, environ)
        write_result(result_fd, (KEEP if keep else RETIRE) + payload)
        if not keep:
            break
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(BaseException):  # os._exit skips child_run's own sweep
        end_descendants(sweep_grace)
    os._exit(0)


def _unloadable(request: TryRequest, exc: Exception) -> bytes:
    """The outcome of a try whose task the host cannot load (retried after BaseOperator's default
    delay, as a worker's unloadable try)."""
    workload = request.workload
    error = f"cannot load task {workload.task_id!r} of DAG {workload.dag_id!r}: {exc}"
    with contextlib.suppress(OSError):
        fd = os.open(request.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, f"*** {error}\n".encode())
        os.close(fd)
    state = failure_state(workload.try_number, workload.max_tries)
    delay = timedelta(seconds=300) if state is TaskInstanceState.UP_FOR_RETRY else None
    return TryOutcome(state=state, error=error, next_retry_delay=delay).to_json().encode()


def _same_globals(module: dict[str, object] | None, before: dict[str, object] | None) -> bool:
    """Whether the try left the DAG file's module globals bound as it found them (a ``global``
    statement's assignment, a name added or deleted); a mutated object is not seen."""
    if module is None or before is None:
        return True
    if len(module) != len(before):
        return False
    missing = object()
    return all(module.get(name, missing) is value for name, value in before.items())


def _clean(threads: int, cwd: str, environ: dict[str, str]) -> bool:
    """Whether the try left nothing that could change the next one (see the module doc)."""
    if threading.active_count() > threads or os.environ != environ:
        return False
    try:
        if os.getcwd() != cwd:
            return False
    except OSError:
        return False
    while True:  # reap what ended; a live child (or orphaned descendant) means retire
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            return False


def _read_request(fd: int) -> TryRequest | None:
    header = _read_exactly(fd, _FRAME.size)
    if header is None:
        return None
    (size,) = _FRAME.unpack(header)
    data = _read_exactly(fd, size)
    if data is None:
        return None
    request: TryRequest = pickle.loads(data)
    return request


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
