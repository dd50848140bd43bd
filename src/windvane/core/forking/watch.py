"""Waiting on forked children: :class:`ChildWatcher`, many children in one selector.

:meth:`ChildWatcher.wait` waits on every child's result pipe and exit handle
(pidfd) at once, with a timeout no later than the nearest deadline or
grace-period end: no polling, no sleeping. It drains the pipes as data comes,
applies each child's deadline (:meth:`~windvane.core.forking.handle.ForkedChild.enforce`)
and returns the children that are done, each with its
:class:`~windvane.core.forking.ending.ChildEnd`: done means its whole result
arrived, or it exited. Where there are no pidfds, a child whose pipe is
closed is polled for its exit.
"""

from __future__ import annotations

import selectors
import time

from windvane.core.forking.ending import ChildEnd
from windvane.core.forking.handle import ForkedChild

#: Longest single wait, so a child that exits while a grandchild keeps its pipe open is seen
#: even without a pidfd.
_MAX_WAIT = 1.0
#: Longest wait while a child without a pidfd has closed its pipe (it is exiting).
_POLL_WAIT = 0.01
_PIPE, _EXIT = 0, 1


class ChildWatcher:
    """The children being supervised together; :meth:`close` kills those still running."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._children: dict[int, ForkedChild] = {}

    def __len__(self) -> int:
        return len(self._children)

    def add(self, child: ForkedChild) -> None:
        """Watch ``child`` from now on."""
        self._selector.register(child.read_fd, selectors.EVENT_READ, (child, _PIPE))
        if child.exit_fd is not None:
            self._selector.register(child.exit_fd, selectors.EVENT_READ, (child, _EXIT))
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
            wait = max(0.0, limit - now)
            done = self._collect(self._selector.select(min(wait, _POLL_WAIT) if polling else wait))
            if polling:
                done += [c for c in self._children.values() if c.exit_fd is None and c.poll()]
            if done:
                return [(child, self._end(child)) for child in dict.fromkeys(done)]
            if give_up is not None and time.monotonic() >= give_up:
                break
        return []

    def _collect(self, events: list[tuple[selectors.SelectorKey, int]]) -> list[ForkedChild]:
        done: list[ForkedChild] = []
        for key, _ in events:
            child, kind = key.data
            if kind == _EXIT:
                child.poll(block=True)  # it has exited: its status is there
                done.append(child)
            elif child.pipe_open:
                whole = child.read()
                if not child.pipe_open:  # end of file: level-triggered, it would stay ready
                    self._selector.unregister(child.read_fd)
                if whole:
                    done.append(child)
        return done

    def _end(self, child: ForkedChild) -> ChildEnd:
        del self._children[child.pid]
        if child.pipe_open:
            self._selector.unregister(child.read_fd)
        if child.exit_fd is not None:
            self._selector.unregister(child.exit_fd)
        return child.end()

    def close(self, reason: str = "its supervisor stopped") -> None:
        """Kill the children still watched (SIGKILL, no grace), reap them and stop watching."""
        for child in list(self._children.values()):
            child.reason = child.reason or reason
            child.kill()
            child.poll(block=True)
            self._end(child)
        self._selector.close()
