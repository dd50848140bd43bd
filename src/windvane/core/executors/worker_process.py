"""One LocalExecutor worker process, seen from the executor: start it, talk to it, notice its end.

A worker is a fresh interpreter (:func:`~windvane.core.executors.local_worker.worker_command`)
holding one end of a socket pair; nothing else of this process is inherited
(``close_fds``), so a worker never keeps another worker's socket or the
executor's pipes open. Its end is noticed through a pidfd (Linux), or else
through its socket reaching end of file.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from multiprocessing.connection import Connection, Pipe

from windvane.core.executors.local_worker import WorkerConfig, worker_command


class WorkerProcess:
    """A started worker: :attr:`conn` to talk to it, :attr:`sentinel` to wait for its end."""

    def __init__(self, config: WorkerConfig) -> None:
        parent_end, child_end = Pipe(duplex=True)
        fd = child_end.fileno()
        try:
            self._popen = subprocess.Popen(worker_command(fd), pass_fds=(fd,), stdin=subprocess.DEVNULL)
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self.conn: Connection = parent_end
        #: Readable once the process has exited; None where pidfds do not exist.
        self.sentinel: int | None = _pidfd(self._popen.pid)
        with contextlib.suppress(OSError):  # one that died already is noticed by its caller
            parent_end.send(config)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def exitcode(self) -> int | None:
        """None while it runs; negative: the signal that killed it."""
        return self._popen.poll()

    def terminate(self) -> None:
        self._popen.terminate()

    def kill(self) -> None:
        self._popen.kill()

    def reap(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` for it to end, release what it held; its exit code."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=timeout)
        self.conn.close()
        if self.sentinel is not None:
            os.close(self.sentinel)
            self.sentinel = None
        return self._popen.returncode


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
