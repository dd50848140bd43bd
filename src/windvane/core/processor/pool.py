"""Running parse children: at most N at once, each with a deadline.

:func:`parse_files` forks one child per file (:func:`~.parse_child.fork_parser`)
and yields a :class:`FileResult` as each one ends. It waits on the children's
result pipes and exit handles (Linux pidfds) with one ``select`` whose timeout
is the nearest deadline: no polling, no sleeping. A child past its deadline is
killed with SIGKILL and reported as timed out; a child that dies without
reporting (``os._exit``, a segfault) is reported as crashed. Either way the
other files go on. Closing the generator early kills whatever still runs.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field

from windvane.core.processor.parse_child import CHILD_INTERNAL_ERROR, ParseOutcome, fork_parser
from windvane.errors import DagImportError

_HAVE_PIDFD = hasattr(os, "pidfd_open")
_READ_SIZE = 1 << 16


@dataclass(frozen=True, slots=True)
class FileResult:
    """How parsing one file ended.

    ``outcome`` is what the child reported (None if it reported nothing);
    ``failure`` explains a timeout or a crash.
    """

    path: str
    duration: float
    outcome: ParseOutcome | None
    failure: str | None = None
    timed_out: bool = False

    @property
    def error(self) -> str | None:
        """The import error text for the file, if any."""
        if self.failure is not None:
            return self.failure
        return self.outcome.error if self.outcome is not None else None


@dataclass(slots=True)
class _Child:
    path: str
    pid: int
    read_fd: int
    pidfd: int | None
    started: float
    deadline: float
    chunks: list[bytes] = field(default_factory=list)
    pipe_open: bool = True
    exited: bool = False
    status: int | None = None


def _reap(pid: int) -> int | None:
    """Wait for ``pid`` and return its wait status (None if someone else reaped it, e.g. SIGCHLD ignored)."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def _describe_exit(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the parsing process was killed by {name}"
    if code == CHILD_INTERNAL_ERROR:
        return "the parsing process failed before it could report (internal error)"
    return f"the parsing process exited with code {code} before reporting"


def _result(child: _Child, now: float) -> FileResult:
    duration = now - child.started
    data = b"".join(child.chunks)
    outcome: ParseOutcome | None = None
    if data:
        try:
            outcome = ParseOutcome.decode(data)
        except (ValueError, KeyError, TypeError):
            outcome = None
    if outcome is not None:
        return FileResult(child.path, duration, outcome)
    reason = _describe_exit(child.status) if child.status is not None else "the parsing process vanished"
    return FileResult(child.path, duration, None, failure=str(DagImportError(child.path, reason)))


class _Runner:
    def __init__(self, timeout: float, log_path: str | None, after_fork: Callable[[], None] | None) -> None:
        self.timeout = timeout
        self.log_path = log_path
        self.after_fork = after_fork
        self.selector = selectors.DefaultSelector()
        self.running: dict[int, _Child] = {}

    def start(self, path: str) -> None:
        pid, read_fd = fork_parser(path, log_path=self.log_path, after_fork=self.after_fork)
        started = time.monotonic()
        os.set_blocking(read_fd, False)
        pidfd = os.pidfd_open(pid) if _HAVE_PIDFD else None
        child = _Child(path, pid, read_fd, pidfd, started, started + self.timeout)
        self.running[pid] = child
        self.selector.register(read_fd, selectors.EVENT_READ, (child, "pipe"))
        if pidfd is not None:
            self.selector.register(pidfd, selectors.EVENT_READ, (child, "exit"))

    def _drain(self, child: _Child) -> None:
        while child.pipe_open:
            try:
                chunk = os.read(child.read_fd, _READ_SIZE)
            except BlockingIOError:
                return
            if not chunk:
                child.pipe_open = False
                self.selector.unregister(child.read_fd)
                return
            child.chunks.append(chunk)

    def _close(self, child: _Child) -> None:
        del self.running[child.pid]
        if child.pipe_open:
            self.selector.unregister(child.read_fd)
        os.close(child.read_fd)
        if child.pidfd is not None:
            self.selector.unregister(child.pidfd)
            os.close(child.pidfd)

    def step(self) -> list[FileResult]:
        """Wait until a child reports, exits or reaches its deadline; return the finished ones."""
        wait = max(0.0, min(c.deadline for c in self.running.values()) - time.monotonic())
        finished: list[FileResult] = []
        for key, _ in self.selector.select(wait):
            child, kind = key.data
            if child.pid not in self.running:
                continue
            self._drain(child)
            if kind == "exit" or (not _HAVE_PIDFD and not child.pipe_open):
                child.status = _reap(child.pid)
                child.exited = True
            if child.exited:
                self._drain(child)  # all the child wrote is in the pipe now
                finished.append(_result(child, time.monotonic()))
                self._close(child)
        now = time.monotonic()
        for child in [c for c in self.running.values() if c.deadline <= now]:
            finished.append(self._kill(child, now))
        return finished

    def _kill(self, child: _Child, now: float) -> FileResult:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        _reap(child.pid)
        self._close(child)
        message = f"timed out after {self.timeout:g} s (parse_timeout); the parsing process was killed"
        return FileResult(
            child.path, now - child.started, None, str(DagImportError(child.path, message)), True
        )

    def stop_all(self) -> None:
        for child in list(self.running.values()):
            self._kill(child, time.monotonic())
        self.selector.close()


def parse_files(
    paths: Iterable[str],
    *,
    parallelism: int,
    timeout: float,
    log_path: str | None = None,
    after_fork: Callable[[], None] | None = None,
) -> Generator[FileResult, None, None]:
    """Parse ``paths`` in up to ``parallelism`` children; yield each result as it ends."""
    if parallelism < 1:
        raise ValueError(f"parallelism must be >= 1, got {parallelism}")
    pending = deque(paths)
    runner = _Runner(timeout, log_path, after_fork)
    try:
        while pending or runner.running:
            while pending and len(runner.running) < parallelism:
                runner.start(pending.popleft())
            finished = runner.step()
            # Refill the free slots before handing results over: children parse while they are stored.
            while pending and len(runner.running) < parallelism:
                runner.start(pending.popleft())
            yield from finished
    finally:
        runner.stop_all()
