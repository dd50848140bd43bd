"""One forked child, seen from its supervisor: :class:`ForkedChild`.

:meth:`ForkedChild.fork` forks the calling (warm) process; the child runs a
body and reports the bytes it returns over a pipe
(:mod:`windvane.core.forking.child`). The handle holds the child's result
pipe (non-blocking, drained by :meth:`~ForkedChild.read` so a large result
never deadlocks), its exit handle (a Linux pidfd, readable once it exited;
None elsewhere), its deadline and the supervisor's decisions about it
(:meth:`~ForkedChild.terminate`: SIGTERM to its process group, then SIGKILL
after a grace period). :meth:`~ForkedChild.end` classifies how it ended
(:mod:`windvane.core.forking.ending`).

Something must wait: a :class:`~windvane.core.forking.watch.ChildWatcher` (one
poll for many children: the DAG processor) or
:func:`~windvane.core.forking.supervise.supervise` (one child and its
heartbeats, on a watcher: the worker). A child whose whole result arrived is not waited for:
its exit is only the teardown of its memory, which goes on while the caller
uses the result; it is reaped before the next fork (:func:`reap_exited`).

:meth:`ForkedChild.host_try` makes a handle for one result of a process that
reports several, one after the other (a try host:
:mod:`windvane.core.worker.try_host`): once that result is in, :meth:`~ForkedChild.end`
leaves the process, its pipe and its exit handle alone (they belong to the host); if
the process ends instead, the handle ends it as any child.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from windvane.core.forking.cells import Cell, Cells
from windvane.core.forking.child import RESULT_LENGTH, child_run
from windvane.core.forking.containment import current
from windvane.core.forking.ending import ChildEnd, classify
from windvane.core.forking.lean_fork import lean_fork
from windvane.core.forking.subreaper import end_adopted, kill_tree
from windvane.core.forking.sweep import sweep_session

_READ_SIZE = 1 << 16
log = logging.getLogger(__name__)
#: Children that reported their whole result and were not waited for (reaped before the next fork).
_exiting: list[int] = []
#: Every child forked here and not reaped yet: never taken for an adopted orphan.
_unreaped: set[int] = set()
#: The cells of children in :data:`_exiting`, closed once they are reaped.
_closing: dict[int, tuple[Cells, Cell]] = {}


class ForkedChild:
    """A child forked by :meth:`fork`: result pipe, exit handle, deadline, termination, end."""

    __slots__ = (
        "_cell",
        "_cells",
        "_data",
        "_ended",
        "_payload",
        "deadline",
        "deadline_seconds",
        "exit_fd",
        "exited",
        "hosted",
        "kill_at",
        "kill_grace",
        "oom_kills",
        "pid",
        "pipe_open",
        "read_fd",
        "reason",
        "started",
        "swept",
        "timed_out",
        "wait_status",
    )

    def __init__(
        self, read_fd: int, *, deadline_seconds: float | None = None, kill_grace_seconds: float = 5.0
    ) -> None:
        """Made by :meth:`fork`."""
        self.pid = 0
        self.read_fd = read_fd
        #: Readable once the child has exited (a pidfd); None where the platform has none.
        self.exit_fd: int | None = None
        #: ``time.monotonic()`` at the fork.
        self.started = 0.0
        self.deadline_seconds = deadline_seconds
        self.deadline: float | None = None
        self.kill_grace = kill_grace_seconds
        #: Why the supervisor terminated the child (the first reason given), if it did.
        self.reason: str | None = None
        self.timed_out = False
        #: When a terminated child still running gets SIGKILL.
        self.kill_at: float | None = None
        self.pipe_open = True
        self.exited = False
        self.wait_status: int | None = None
        #: How many processes of its session outlived the child and were ended by :meth:`end`.
        self.swept = 0
        #: How many processes the kernel's OOM killer ended in the child's cell.
        self.oom_kills = 0
        self._cells: Cells | None = None
        self._cell: Cell | None = None
        #: One result of a host that lives on after it (see :meth:`host_try`).
        self.hosted = False
        self._data = bytearray()
        self._payload: bytes | None = None
        self._ended = False

    @classmethod
    def host_try(
        cls,
        pid: int,
        read_fd: int,
        exit_fd: int | None,
        *,
        deadline_seconds: float | None = None,
        kill_grace_seconds: float = 5.0,
    ) -> ForkedChild:
        """A handle on the next result of the running process ``pid`` (a host already forked,
        whose non-blocking result pipe is ``read_fd`` and pidfd ``exit_fd``), starting now.
        Once that result is in, :meth:`end` leaves the process and both descriptors open; if
        the process ends first (or is terminated), :meth:`end` closes them and ends it as any
        child."""
        child = cls(read_fd, deadline_seconds=deadline_seconds, kill_grace_seconds=kill_grace_seconds)
        child.hosted = True
        child.pid = pid
        child.exit_fd = exit_fd
        child.started = time.monotonic()
        if deadline_seconds is not None:
            child.deadline = child.started + deadline_seconds
        return child

    @classmethod
    def fork(
        cls,
        body: Callable[[], bytes],
        *,
        after_fork: Callable[[], None] | None = None,
        stdio: str | None = None,
        deadline_seconds: float | None = None,
        kill_grace_seconds: float = 5.0,
        memory_limit_bytes: int = 0,
        lean: bool = False,
    ) -> ForkedChild:
        """Fork a child that runs ``body`` and reports what it returns.

        ``after_fork`` and ``stdio``: see :func:`~windvane.core.forking.child.child_run`.
        Past ``deadline_seconds`` the supervisor terminates it (SIGTERM, then
        SIGKILL ``kill_grace_seconds`` later; 0 means SIGKILL at once). ``memory_limit_bytes``
        (0: none) is the limit of the child's cell where the containment
        (:func:`~windvane.core.forking.containment.current`) has cells that limit memory, else
        its address space (see :func:`~windvane.core.forking.child.child_run`). With ``lean`` it
        forks with :func:`~windvane.core.forking.lean_fork.lean_fork` (no ``os.register_at_fork``
        hook runs in the child: only for a caller that needs none of them).
        """
        reap_exited()
        containment = current()
        cells = containment.cells
        try:
            cell = cells.open(memory_limit_bytes)
        except OSError as exc:  # a full or vanished cgroup: the session and subreaper still hold
            log.warning("cannot make a %s cell for a child: %s; it runs without one", cells.name, exc)
            cell = None
        for stream in (sys.stdout, sys.stderr):  # or the child would repeat buffered output
            with contextlib.suppress(Exception):
                stream.flush()
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        child = cls(read_fd, deadline_seconds=deadline_seconds, kill_grace_seconds=kill_grace_seconds)
        parent_pid = os.getpid()
        try:
            pid = lean_fork() if lean else os.fork()
        except OSError:  # no process to be had (EAGAIN, ENOMEM)
            os.close(read_fd)
            os.close(write_fd)
            if cell is not None:
                cells.close(cell)
            raise
        if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
            child_run(
                body,
                read_fd,
                write_fd,
                parent_pid,
                after_fork=after_fork,
                stdio=stdio,
                memory_limit_bytes=0 if cell is not None and cell.memory_limit_bytes else memory_limit_bytes,
                enter=None if cell is None else functools.partial(cells.enter, cell),
                subreaper=containment.subreaper,
                sweep_grace=kill_grace_seconds,
            )
        _unreaped.add(pid)
        child._cells = cells
        child._cell = cell
        child._forked(pid, write_fd)
        return child

    def _forked(self, pid: int, write_fd: int) -> None:
        # Lean on purpose (no context managers): until the next fork, every page the parent
        # writes costs it a page fault, and this runs once per try.
        self.started = time.monotonic()
        self.pid = pid
        os.close(write_fd)
        # No setpgid here: the child calls setsid(), which a process group leader cannot.
        self.exit_fd = _pidfd(pid)
        if self.deadline_seconds is not None:
            self.deadline = self.started + self.deadline_seconds

    def arm(self, deadline_seconds: float | None) -> None:
        """Start the child's clock now (a child forked ahead of its work, told what to do only now):
        :attr:`started` and the deadline, ``deadline_seconds`` from now (None: none), count from here."""
        self.started = time.monotonic()
        self.deadline_seconds = deadline_seconds
        self.deadline = None if deadline_seconds is None else self.started + deadline_seconds

    @property
    def payload(self) -> bytes | None:
        """The child's whole result, once it has arrived."""
        return self._payload

    def read(self) -> bool:
        """Read what the pipe holds now, without blocking; True once the whole result is in.
        Sets :attr:`pipe_open` to False at end of file."""
        fd = self.read_fd
        data = self._data
        while self.pipe_open:
            try:
                chunk = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                break
            if not chunk:
                self.pipe_open = False
                break
            data += chunk
        if self._payload is None and len(data) >= RESULT_LENGTH.size:
            (size,) = RESULT_LENGTH.unpack_from(data)
            if len(data) - RESULT_LENGTH.size >= size:
                self._payload = bytes(data[RESULT_LENGTH.size : RESULT_LENGTH.size + size])
        return self._payload is not None

    def poll(self, *, block: bool = False) -> bool:
        """Collect the child's exit status if it has exited (wait for it with ``block``); True once
        it has. A child someone else reaped counts as exited, its status unknown."""
        if self.exited:
            return True
        try:
            reaped, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (e.g. SIGCHLD ignored)
            reaped, status = self.pid, None
        if not reaped:
            return False
        _unreaped.discard(self.pid)
        self.exited = True
        self.wait_status = status
        return True

    def terminate(self, reason: str, *, timed_out: bool = False) -> None:
        """End the child for ``reason``: SIGTERM to its process group now, SIGKILL after the grace
        period (at once if the grace is 0). Only the first call counts; safe in a signal handler."""
        if self.reason is not None or self.exited:
            return
        self.reason = reason
        self.timed_out = timed_out
        if self.kill_grace <= 0:
            self.kill()
        else:
            self.kill_at = time.monotonic() + self.kill_grace
            signal_group(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the child's descendants (wherever their session) and its process group."""
        self.kill_at = None
        if not self.exited:
            kill_tree(self.pid)
            signal_group(self.pid, signal.SIGKILL)

    def enforce(self, now: float) -> float | None:
        """Apply the deadline and the grace period at ``now``; returns when one is next due."""
        if self.deadline is not None and self.reason is None and now >= self.deadline:
            self.terminate(f"timed out after {self.deadline_seconds:g} s", timed_out=True)
        if self.kill_at is not None and now >= self.kill_at:
            self.kill()
        if self.kill_at is not None:
            return self.kill_at
        return self.deadline if self.reason is None else None

    def end(self, *, sweep: bool = True) -> ChildEnd:
        """How the child ended; closes its pipe and exit handle and ends every process left
        behind: in its session (:func:`~windvane.core.forking.sweep.sweep_session`, with the kill
        grace), adopted by this process if it is a subreaper
        (:func:`~windvane.core.forking.subreaper.end_adopted`; unless ``sweep`` is false: then the
        caller sweeps the session, :attr:`sweep_ignore`, and ends the adopted orphans, with
        :func:`end_orphans`), and in its cell (emptied with
        SIGKILL and removed; for a child still exiting after it reported, once it is reaped).
        Call once, when its result is in or it has exited."""
        if self._ended:
            raise RuntimeError(f"child {self.pid} already ended")
        self._ended = True
        if self.exited and self.pipe_open:
            self.read()  # all the child wrote is in the pipe now
        if self.hosted and self._payload is not None and not self.exited and self.reason is None:
            # One result of a host that lives on: its process and descriptors stay its own
            # (``read_fd`` stays set: that is how the host's owner tells this case apart).
            return classify(self.pid, time.monotonic() - self.started, self._payload, None,
                            reason=None, timed_out=False)  # fmt: skip
        self.close()
        if sweep:
            self.swept = sweep_session(self.pid, self.kill_grace, ignore=self.sweep_ignore)
            self.swept += end_adopted(self.kill_grace, spare=_unreaped)
        if self._cell is not None and self._cells is not None:
            if self.exited:
                closed = self._cells.close(self._cell)
                self.swept += closed.killed
                self.oom_kills = closed.oom_kills
            else:
                _closing[self.pid] = (self._cells, self._cell)
        if not self.exited:
            _exiting.append(self.pid)
            reap_exited(block=False)
        return classify(
            self.pid,
            time.monotonic() - self.started,
            self._payload,
            self.wait_status,
            reason=self.reason,
            timed_out=self.timed_out,
            oom_kills=self.oom_kills,
        )

    @property
    def sweep_ignore(self) -> int:
        """The pid a sweep of the child's session signals but does not wait for (the child
        itself while it has not exited; else 0)."""
        return 0 if self.exited else self.pid

    def close(self) -> None:
        """Close the pipe and the exit handle (idempotent)."""
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1
            self.pipe_open = False
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None


def reap_exited(*, block: bool = True) -> None:
    """Collect the exit status of children that reported and were left to finish their teardown."""
    for pid in list(_exiting):
        try:
            reaped, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # someone reaped it already
            reaped = pid
        if reaped:
            _exiting.remove(pid)
            _unreaped.discard(pid)
            closing = _closing.pop(pid, None)
            if closing is not None:
                closing[0].close(closing[1])


def end_orphans(grace: float) -> int:
    """End the orphans this process adopted (:func:`~.subreaper.end_adopted`), sparing the
    children it forked and has not reaped; how many were found."""
    return end_adopted(grace, spare=_unreaped)


def signal_group(pid: int, signum: int) -> None:
    """Send ``signum`` to the process group ``pid`` leads (to ``pid`` alone if it has none yet)."""
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):  # the child has not called setsid() yet
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
