"""The child side of :func:`windvane.core.forking.supervise.run_forked`: one forked process, one result.

It gets its own process group and default signal handling, asks Linux to
SIGKILL it if its parent dies, runs the body and writes the bytes it returns
to the pipe, prefixed with their length (:data:`RESULT_LENGTH`), then
``os._exit``\\ s: with 0, with the code of a ``SystemExit``, or with
:data:`CHILD_INTERNAL_ERROR` (and a traceback on stderr) if the body raised.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import struct
import sys
from collections.abc import Callable
from typing import NoReturn

#: Exit code of a child whose ``body`` raised (Windvane's fault, not the task's outcome).
CHILD_INTERNAL_ERROR = 70
#: The header of the result: its length in bytes.
RESULT_LENGTH = struct.Struct("!Q")
_PR_SET_PDEATHSIG = 1


def child_run(body: Callable[[], bytes], read_fd: int, write_fd: int, parent_pid: int) -> NoReturn:
    """Everything the child does: set itself up, run ``body``, write its result, exit."""
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
        view = memoryview(RESULT_LENGTH.pack(len(payload)) + payload)
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
    if _prctl is None:
        return
    try:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(CHILD_INTERNAL_ERROR)


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once in the supervising process rather than in every child."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_prctl = _load_prctl()
