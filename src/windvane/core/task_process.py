"""Run a function in a forked child and supervise it: deadline, heartbeats, crashes.

:func:`run_forked` forks the calling (warm) process. The child gets its own
process group, default signal handling and, on Linux, a SIGKILL if its parent
dies; it runs ``body`` and writes the bytes it returns to a pipe, then
``os._exit``\\ s. The parent reads the pipe while it waits, so a large result
never deadlocks, and meanwhile:

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
import ctypes
import gc
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Exit code of a child whose ``body`` raised (Windvane's fault, not the task's outcome).
CHILD_INTERNAL_ERROR = 70
#: Longest single wait, so a child that exits while a grandchild keeps the pipe open is noticed.
_MAX_WAIT = 1.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class ChildResult:
    """What became of the child.

    ``payload`` is what ``body`` returned (None when the child wrote nothing:
    it crashed, exited early or was killed). ``status`` describes how it ended,
    e.g. ``"exited with code 3"`` or ``"was killed by signal SIGSEGV"``.
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
    """Run ``body`` in a forked child; block until it ends (see the module doc)."""
    global _current
    for stream in (sys.stdout, sys.stderr):  # or the child would repeat buffered output
        with contextlib.suppress(Exception):
            stream.flush()
    read_fd, write_fd = os.pipe()
    parent_pid = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
        _child(body, read_fd, write_fd, parent_pid)
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
    chunks: list[bytes] = []
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
                    pipe_open = _drain(read_fd, chunks)
                    continue
            reaped, status = os.waitpid(sup.pid, os.WNOHANG)
            if reaped:
                if pipe_open:
                    _drain(read_fd, chunks)
                return (b"".join(chunks) if chunks else None), _describe(status)
            if not watched:  # no pidfd, pipe closed: the child is exiting; poll briefly
                time.sleep(min(timeout, poll_pause))
                poll_pause = min(poll_pause * 2, 0.05)
    finally:
        if exit_fd is not None:
            os.close(exit_fd)


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


def _drain(fd: int, chunks: list[bytes]) -> bool:
    """Read what is available; False at end of file."""
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not data:
            return False
        chunks.append(data)


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


def _child(body: Callable[[], bytes], read_fd: int, write_fd: int, parent_pid: int) -> None:
    code = CHILD_INTERNAL_ERROR
    # Inherited objects go to the permanent generation: the child's collections never walk
    # (and so never copy) the parent's memory. O(1); the parent is unaffected.
    gc.freeze()
    try:
        os.close(read_fd)
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGALRM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        _die_with_parent(parent_pid)
        payload = body()
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view) :]
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
    finally:
        os._exit(code)


def _die_with_parent(parent_pid: int) -> None:
    """Linux only: SIGKILL this process when the supervising process dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(CHILD_INTERNAL_ERROR)
