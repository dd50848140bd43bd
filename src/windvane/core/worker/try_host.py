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

Each retirement is counted by reason (:data:`~windvane.core.worker.try_host_loop.RETIREMENT_REASONS`,
:meth:`TryHosts.take_retirements`: a LocalExecutor worker reports them with each try and the
scheduler's process counts them in ``windvane_executor_try_host_retirements_total``); the first one
of a DAG file that a try's trace caused is logged, naming the file and the globals it rebound: a
file whose every try retires its host pays a fork per try, silently otherwise. The host's own loop
is :mod:`windvane.core.worker.try_host_loop`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
from dataclasses import dataclass, replace

from windvane.core.forking.child import child_run
from windvane.core.forking.ending import ChildEnd
from windvane.core.forking.handle import ForkedChild, reap_exited
from windvane.core.forking.sweep import sweep_session
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.try_host_loop import FRAME, KEEP, RETIRE, RETIREMENT_REASONS, serve
from windvane.core.worker.try_host_loop import TryRequest as TryRequest
from windvane.core.worker.try_host_loop import child_job as child_job

log = logging.getLogger(__name__)

#: The reasons that make every try of a file pay a fork: worth a warning, once per file.
_TRACE_REASONS = frozenset(
    {"globals_changed", "thread_left", "process_left", "environ_changed", "cwd_changed"}
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
        #: Retirements by reason (:data:`RETIREMENT_REASONS`) since :meth:`take_retirements`.
        self.retirements: dict[str, int] = {}
        #: DAG files a retirement was logged for (once per file).
        self._warned: set[str] = set()

    @property
    def host_pid(self) -> int | None:
        return None if self._host is None else self._host.pid

    def start(self, request: TryRequest, *, deadline_seconds: float | None) -> ForkedChild:
        """Hand ``request`` to the host of its DAG file version (forked now if there is none);
        the handle to :func:`~windvane.core.forking.supervise.supervise`."""
        key = (os.path.abspath(request.workload.fileloc), self._loader.imports)
        if self._host is not None and self._host.key != key:
            self.retire("file_changed")
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        for _attempt in range(2):
            if self._host is None:
                self._host = self._fork(key)
            try:
                _write_all(self._host.request_fd, FRAME.pack(len(data)) + data)
                break
            except OSError:  # the host died while idle: a new one
                self.retire("host_ended")
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
        flag, why = b"", "quota"
        if end.payload is not None:
            flag, payload = end.payload[:1], end.payload[1:]
            if flag == RETIRE:
                header, _, payload = payload.partition(b"\n")
                why = header.decode(errors="replace")
            end = replace(end, payload=payload)
        if host is None:
            return end
        reason, _, detail = why.partition(":")
        if child.read_fd == -1:  # ``end()`` closed the host's descriptors: it ended, or is ending
            # A host that retired exits right after reporting: its reason, not an unexplained end.
            self._note(reason if flag == RETIRE else "host_ended", detail, host.key[0])
            self._forget()
        elif flag != KEEP or host.served >= self.tries_per_process:
            self.retire(reason, detail, child_file=host.key[0])
        return end

    def retire(self, reason: str = "quota", detail: str = "", *, child_file: str = "") -> None:
        """Stop the host between tries (:meth:`_stop`). ``reason`` (:data:`RETIREMENT_REASONS`) is
        counted in :attr:`retirements`; one that makes each try of the DAG file ``child_file`` pay a
        fork is logged, naming what the try left (``detail``: the globals it rebound), once per file."""
        if self._host is None:
            return
        self._note(reason, detail, child_file)
        self._stop()

    def _note(self, reason: str, detail: str, child_file: str) -> None:
        """Count a retirement; log the first one of ``child_file`` a try's trace caused."""
        self._count(reason)
        if reason in _TRACE_REASONS and child_file and child_file not in self._warned:
            self._warned.add(child_file)
            log.warning(
                "a try of DAG file %s %s, so its try host retired (%s) and will after each such try: "
                "every try of that file then pays a fork; keep state across tries in an object bound "
                "once at import (docs/scaling.md, 'Keeping a try host')",
                child_file,
                _describe(reason, detail),
                reason,
            )

    def _stop(self) -> None:
        """The host reads the end of its requests and exits; what it left in its session is ended."""
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

    def take_retirements(self) -> dict[str, int]:
        """Retirements by reason since the last call (what the worker reports with each try)."""
        taken, self.retirements = self.retirements, {}
        return taken

    def _count(self, reason: str) -> None:
        if reason not in RETIREMENT_REASONS:  # the label stays bounded whatever a host sent
            reason = "quota"
        self.retirements[reason] = self.retirements.get(reason, 0) + 1

    def _forget(self) -> None:
        """The host ended during a try (its handle closed its descriptors and reaps it)."""
        host, self._host = self._host, None
        if host is not None:
            with contextlib.suppress(OSError):
                os.close(host.request_fd)

    def close(self) -> None:
        """The worker is stopping: the host goes (not counted as a retirement)."""
        self._stop()

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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _describe(reason: str, detail: str) -> str:
    if reason == "globals_changed":
        return f"rebound, added or deleted its global(s) {detail or '?'}"
    return {
        "thread_left": "left a thread running",
        "process_left": "left a process running",
        "environ_changed": "changed os.environ",
        "cwd_changed": "changed the working directory",
    }.get(reason, reason)
