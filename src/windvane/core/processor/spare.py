"""Parse children forked ahead of need: :class:`SpareParser`.

A fresh parse child spends a while before it can parse: the fork itself, then its own setup
(it moves into its cgroup cell, starts a session, resets signals). Moving a process into a
cgroup takes the kernel's global cgroup lock for writing, which waits for an RCU grace period:
a few milliseconds of *waiting*, not CPU, for every child, during which its parsing slot would
stand idle. :func:`~.pool.run_parsers` therefore keeps a few children forked ahead of need
(:func:`fork_spare`): each does all its setup at once, then blocks reading its path from a pipe
of its own. When a slot frees, :meth:`SpareParser.assign` writes the next path into the pipe
and starts the child's clock (its deadline counts from there), and a new spare is forked while
the others parse. Isolation is unchanged: still one file per child process, set up before
the file is known.

The path is framed by its length: a spare also holds the write ends of the pipes of the spares
forked before it, so it cannot wait for the end of the file.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable

from windvane.core.forking.handle import ForkedChild
from windvane.core.processor.parse_child import parse_in_child

_LENGTH = struct.Struct("!I")


class SpareParser:
    """A parse child waiting for its path (see the module doc)."""

    __slots__ = ("_assign_fd", "child")

    def __init__(self, child: ForkedChild, assign_fd: int) -> None:
        self.child = child
        self._assign_fd = assign_fd

    def assign(self, path: str, timeout: float | None) -> bool:
        """Tell the child to parse ``path`` and start its clock (deadline ``timeout`` seconds from
        now); False if the child died meanwhile (the caller then ends it: :meth:`cancel`)."""
        data = os.fsencode(path)
        try:
            os.write(self._assign_fd, _LENGTH.pack(len(data)) + data)  # far below the pipe's buffer
        except OSError:  # no reader left: the child is gone
            return False
        finally:
            self._close()
        self.child.arm(timeout)
        return True

    def cancel(self) -> None:
        """Kill the child (no path was given it, or it died) and end it."""
        self._close()
        self.child.kill()
        self.child.poll(block=True)
        self.child.end()

    def _close(self) -> None:
        if self._assign_fd >= 0:
            os.close(self._assign_fd)
            self._assign_fd = -1


def fork_spare(
    *,
    log_path: str | None = None,
    after_fork: Callable[[], None] | None = None,
    memory_limit_bytes: int = 0,
    stdio_inherited: bool = False,
    lean: bool = False,
) -> SpareParser:
    """Fork a parse child that sets itself up, then waits for :meth:`SpareParser.assign` (the
    arguments are :func:`~.parse_child.fork_parser`'s; it has no deadline until it is assigned)."""
    read_fd, write_fd = os.pipe()
    try:
        child = ForkedChild.fork(
            functools.partial(parse_assigned, read_fd, write_fd),
            after_fork=after_fork,
            stdio=None if stdio_inherited else log_path or os.devnull,
            deadline_seconds=None,
            kill_grace_seconds=0,
            memory_limit_bytes=memory_limit_bytes,
            lean=lean,
        )
    except BaseException:
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)
    return SpareParser(child, write_fd)


def parse_assigned(read_fd: int, write_fd: int) -> bytes:
    """The body of a spare: wait for the path on ``read_fd``, then parse it
    (:func:`~.parse_child.parse_in_child`). A pipe closed before a whole path came: exit quietly."""
    os.close(write_fd)  # its own copy of the writing end
    header = _read_exactly(read_fd, _LENGTH.size)
    (size,) = _LENGTH.unpack(header)
    path = os.fsdecode(_read_exactly(read_fd, size))
    os.close(read_fd)
    return parse_in_child(path)


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise SystemExit(0)  # cancelled: nothing to report
        data += chunk
    return data
