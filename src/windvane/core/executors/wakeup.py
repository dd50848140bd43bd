"""A self-pipe: lets any thread, or a signal handler, end an executor's wait."""

from __future__ import annotations

import contextlib
import os
import select


class WakeupPipe:
    """:meth:`wake` makes the read end readable until :meth:`drain` is called."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)

    @property
    def fds(self) -> tuple[int, int]:
        return self.read_fd, self.write_fd

    def wake(self) -> None:
        """Signal- and thread-safe: one ``write(2)``; a full pipe is awake already."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.write_fd, b"\0")

    def drain(self) -> bool:
        """Empty the pipe; True if anyone had called :meth:`wake`."""
        woken = False
        while True:
            try:
                data = os.read(self.read_fd, 4096)
            except (BlockingIOError, OSError):
                return woken
            if not data:
                return woken
            woken = True

    def wait(self, timeout: float) -> bool:
        """Block until :meth:`wake` or ``timeout``; True if woken."""
        ready, _, _ = select.select([self.read_fd], [], [], max(0.0, timeout))
        return bool(ready) and self.drain()

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
