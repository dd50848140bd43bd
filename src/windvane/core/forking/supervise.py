"""Run a function in a forked child and supervise it: deadline, heartbeats, crashes.

:func:`run_forked` forks the calling (warm) process. The child gets its own
process group, default signal handling and, on Linux, a SIGKILL if its parent
dies; it runs ``body`` and writes the bytes it returns to a pipe (prefixed
with their length), then ``os._exit``\\ s. The parent reads the pipe while it
waits, so a large result never deadlocks, and returns as soon as the whole
result is in: the child's exit is then only the teardown of its memory, which
goes on while the caller records the result (the child is reaped before the
next fork). Meanwhile:

* calls ``heartbeat`` every ``heartbeat_seconds`` (never for a child that ends
  sooner); a heartbeat returning False means the try lost its claim, and the
  child is terminated;
* past ``deadline_seconds`` it sends SIGTERM to the child's process group and,
  ``kill_grace_seconds`` later, SIGKILL.

:func:`terminate_current` lets a signal handler of the supervising process
(a worker being stopped) end the child being waited for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from windvane.core.forking.child import CHILD_INTERNAL_ERROR as CHILD_INTERNAL_ERROR
from windvane.core.forking.child import RESULT_LENGTH, child_run

log = logging.getLogger(__name__)

#: Longest single wait, so a child that exits while a grandchild keeps the pipe open is noticed.
_MAX_WAIT = 1.0


@dataclass(frozen=True, slots=True)
class ChildResult:
    """What became of the child.

    ``payload`` is what ``body`` returned (None when the child did not write all
    of it: it crashed, exited early or was killed). ``status`` describes how it
    ended, e.g. ``"exited with code 3"`` or ``"was killed by signal SIGSEGV"``,
    or is ``"reported its result"`` when the payload arrived whole (its exit
    was not waited for).
    ``killed_because`` is set when the supervisor killed it (deadline, lost
    claim, worker stopping).
    """

    payload: bytes | None
    status: str
    killed_because: str | None = None
    timed_out: bool = False


class _Supervision:
    def __init__(self, pid: int, kill_grace_seconds: float) -> None:
        self.pid = pid
        self.kill_grace = kill_grace_seconds
        self.killed_because: str | None = None
        self.timed_out = False
        self.kill_at: float | None = None

    def terminate(self, reason: str) -> None:
        if self.killed_because is None:
            self.killed_because = reason
            self.kill_at = time.monotonic() + self.kill_grace
            _signal_group(self.pid, signal.SIGTERM)


_current: _Supervision | None = None
#: Children that sent their whole payload and were not waited for: their exit is only teardown,
#: which runs while the caller records the outcome. Reaped before the next fork.
_reported: list[int] = []
_REPORTED = "reported its result"


def terminate_current(reason: str) -> bool:
    """Terminate the child being supervised now, if any (safe in a signal handler)."""
    supervision = _current
    if supervision is None:
        return False
    supervision.terminate(reason)
    return True


def run_forked(
    body: Callable[[], bytes],
    *,
    deadline_seconds: float | None = None,
    kill_grace_seconds: float = 5.0,
    heartbeat_seconds: float | None = None,
    heartbeat: Callable[[], bool] | None = None,
) -> ChildResult:
    """Run ``body`` in a forked child; block until it has returned its result or ended (see the
    module doc)."""
    global _current
    _reap_reported()
    for stream in (sys.stdout, sys.stderr):  # or the child would repeat buffered output
        with contextlib.suppress(Exception):
            stream.flush()
    read_fd, write_fd = os.pipe()
    parent_pid = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
        child_run(body, read_fd, write_fd, parent_pid)
    os.close(write_fd)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # the child does it too; whichever runs first wins
    supervision = _Supervision(pid, kill_grace_seconds)
    _current = supervision
    try:
        payload, status = _wait(supervision, read_fd, deadline_seconds, heartbeat_seconds, heartbeat)
    finally:
        _current = None
        os.close(read_fd)
    if status is _REPORTED:
        _reported.append(pid)
        _reap_reported(block=False)
    return ChildResult(
        payload=payload,
        status=status,
        killed_because=supervision.killed_because,
        timed_out=supervision.timed_out,
    )


def _wait(
    sup: _Supervision,
    read_fd: int,
    deadline_seconds: float | None,
    heartbeat_seconds: float | None,
    heartbeat: Callable[[], bool] | None,
) -> tuple[bytes | None, str]:
    started = time.monotonic()
    deadline = None if deadline_seconds is None else started + deadline_seconds
    next_beat = None if heartbeat is None or not heartbeat_seconds else started + heartbeat_seconds
    data = bytearray()
    pipe_open = True
    os.set_blocking(read_fd, False)
    exit_fd = _pidfd(sup.pid)  # readable once the child has exited (Linux); else poll
    poll_pause = 0.0005
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline and sup.killed_because is None:
                sup.timed_out = True
                sup.terminate(f"timed out after {deadline_seconds:g} s")
            if sup.kill_at is not None and now >= sup.kill_at:
                _signal_group(sup.pid, signal.SIGKILL)
                sup.kill_at = None
            if next_beat is not None and heartbeat is not None and now >= next_beat:
                next_beat = now + (heartbeat_seconds or 0.0)
                if not _beat(heartbeat):
                    sup.terminate("its task instance was changed elsewhere while it ran")
            waits = [_MAX_WAIT] + [t - now for t in (deadline, sup.kill_at, next_beat) if t is not None]
            timeout = max(0.0, min(waits))
            watched = ([read_fd] if pipe_open else []) + ([exit_fd] if exit_fd is not None else [])
            if watched:
                ready, _, _ = select.select(watched, [], [], timeout)
                if read_fd in ready and pipe_open:
                    pipe_open = _drain(read_fd, data)
                    payload = _payload(data)
                    if payload is not None:  # all said: its exit is only teardown now
                        return payload, _REPORTED
                    continue
            reaped, status = os.waitpid(sup.pid, os.WNOHANG)
            if reaped:
                if pipe_open:
                    _drain(read_fd, data)
                return _payload(data), _describe(status)
            if not watched:  # no pidfd, pipe closed: the child is exiting; poll briefly
                time.sleep(min(timeout, poll_pause))
                poll_pause = min(poll_pause * 2, 0.05)
    finally:
        if exit_fd is not None:
            os.close(exit_fd)


def _reap_reported(*, block: bool = True) -> None:
    """Collect the exit status of children that reported their payload and were left exiting."""
    for pid in list(_reported):
        try:
            reaped, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # someone reaped it already
            reaped = pid
        if reaped:
            _reported.remove(pid)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _beat(heartbeat: Callable[[], bool]) -> bool:
    try:
        return heartbeat()
    except Exception:
        log.exception("heartbeat failed; the try keeps running")
        return True


def _drain(fd: int, data: bytearray) -> bool:
    """Read what is available; False at end of file."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        data += chunk


def _payload(data: bytearray) -> bytes | None:
    """The payload, once all of it has arrived (it is prefixed with its length)."""
    if len(data) < RESULT_LENGTH.size:
        return None
    (size,) = RESULT_LENGTH.unpack_from(data)
    if len(data) - RESULT_LENGTH.size < size:
        return None
    return bytes(data[RESULT_LENGTH.size : RESULT_LENGTH.size + size])


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"was killed by signal {name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:  # the group is not the child's yet (it has not called setpgid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
