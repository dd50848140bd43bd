"""Waiting on forked children: :class:`ChildWatcher`, one child or many in one poll.

:meth:`ChildWatcher.wait` waits on every child's result pipe and exit handle
(pidfd) at once, with a timeout no later than the nearest deadline or
grace-period end: no polling, no sleeping. It drains the pipes as data comes,
applies each child's deadline (:meth:`~windvane.core.forking.handle.ForkedChild.enforce`)
and returns the children that are done, each with its
:class:`~windvane.core.forking.ending.ChildEnd`: done means its whole result
arrived, or it exited. Where there are no pidfds, a child whose pipe is
closed is polled for its exit.

It is built on ``select.poll`` rather than :mod:`selectors`: no descriptor
limit, no kernel object, and few Python objects touched per wait, which
matters on the worker's per-try path (after a fork each page the parent
writes is copied).
"""

from __future__ import annotations

import select
import time

from windvane.core.forking.ending import ChildEnd
from windvane.core.forking.handle import ForkedChild, end_orphans
from windvane.core.forking.sweep import sweep_sessions

#: Longest single wait, so a child that exits while a grandchild keeps its pipe open is seen
#: even without a pidfd.
_MAX_WAIT = 1.0
#: Longest wait while a child without a pidfd has closed its pipe (it is exiting).
_POLL_WAIT = 0.01
_PIPE, _EXIT = 0, 1


class ChildWatcher:
    """The children being supervised together; :meth:`close` kills those still running.

    ``sweep_every``: 0 sweeps each child's session as it ends (``ForkedChild.end``); above 0 the
    sessions of ended children are swept together, one look at ``/proc`` for all of them, at
    most that many seconds after the first of them ended and at :meth:`close` at the latest
    (the DAG processor: one sweep per child cost it a scan of ``/proc`` per file), and so are
    the orphans a subreaper adopted from them. A process a child left behind then lives up to
    that long before it is ended.
    """

    def __init__(self, *, sweep_every: float = 0.0) -> None:
        self._poll = select.poll()
        self._fds: dict[int, tuple[ForkedChild, int]] = {}
        self._children: dict[int, ForkedChild] = {}
        self.sweep_every = sweep_every
        #: Ended children whose sessions are still to sweep: session id -> (child, pid to ignore).
        self._unswept: dict[int, tuple[ForkedChild, int]] = {}
        self._sweep_at: float | None = None

    def __len__(self) -> int:
        return len(self._children)

    def add(self, child: ForkedChild) -> None:
        """Watch ``child`` from now on."""
        self._watch(child.read_fd, child, _PIPE)
        if child.exit_fd is not None:
            self._watch(child.exit_fd, child, _EXIT)
        self._children[child.pid] = child

    def wait(self, timeout: float | None = None) -> list[tuple[ForkedChild, ChildEnd]]:
        """Block until at least one child is done, or ``timeout`` seconds passed (then maybe
        none); enforce deadlines meanwhile. Returns the done children, which are no longer
        watched."""
        give_up = None if timeout is None else time.monotonic() + timeout
        while self._children:
            now = time.monotonic()
            limit = now + _MAX_WAIT if give_up is None else min(give_up, now + _MAX_WAIT)
            polling = False
            for child in self._children.values():
                due = child.enforce(now)
                if due is not None and due < limit:
                    limit = due
                polling = polling or (child.exit_fd is None and not child.pipe_open)
            if self._sweep_at is not None:
                if now >= self._sweep_at:
                    self.sweep()
                else:
                    limit = min(limit, self._sweep_at)
            wait = min(limit - now, _POLL_WAIT) if polling else limit - now
            done = self._collect(self._poll.poll(max(0.0, wait) * 1000))
            if polling:
                for child in self._children.values():
                    if child.exit_fd is None and child.poll():
                        done.append(child)
            if done:
                ended: list[tuple[ForkedChild, ChildEnd]] = []
                for child in done:
                    if child.pid in self._children:  # a child may be in ``done`` twice
                        ended.append((child, self._end(child)))
                return ended
            if give_up is not None and time.monotonic() >= give_up:
                break
        return []

    def close(self, reason: str = "its supervisor stopped") -> None:
        """Kill the children still watched (SIGKILL, no grace), reap them and stop watching;
        sweep the sessions still to sweep."""
        for child in list(self._children.values()):
            child.reason = child.reason or reason
            child.kill()
            child.poll(block=True)
            self._end(child)
        self.sweep()

    def sweep(self) -> None:
        """Sweep the sessions of the ended children not swept yet, and end the orphans this
        process adopted meanwhile (``sweep_every`` above 0)."""
        self._sweep_at = None
        if not self._unswept:
            return
        pending, self._unswept = self._unswept, {}
        grace = max(child.kill_grace for child, _ in pending.values())
        found = sweep_sessions({sid: ignore for sid, (_, ignore) in pending.items()}, grace)
        for sid, count in found.items():
            pending[sid][0].swept = count
        end_orphans(grace)

    def _watch(self, fd: int, child: ForkedChild, kind: int) -> None:
        self._poll.register(fd, select.POLLIN)
        self._fds[fd] = (child, kind)

    def _unwatch(self, fd: int) -> None:
        self._poll.unregister(fd)
        del self._fds[fd]

    def _collect(self, events: list[tuple[int, int]]) -> list[ForkedChild]:
        done: list[ForkedChild] = []
        for fd, _ in events:
            child, kind = self._fds[fd]
            if kind == _EXIT:
                child.poll(block=True)  # it has exited: its status is there
                done.append(child)
            else:  # its pipe: watched only while open
                whole = child.read()
                if not child.pipe_open:  # end of file: it would be reported ready forever
                    self._unwatch(fd)
                if whole:
                    done.append(child)
        return done

    def _end(self, child: ForkedChild) -> ChildEnd:
        del self._children[child.pid]
        if child.pipe_open:
            self._unwatch(child.read_fd)
        if child.exit_fd is not None:
            self._unwatch(child.exit_fd)
        if self.sweep_every <= 0:
            return child.end()
        end = child.end(sweep=False)
        self._unswept[child.pid] = (child, child.sweep_ignore)
        if self._sweep_at is None:
            self._sweep_at = time.monotonic() + self.sweep_every
        return end
