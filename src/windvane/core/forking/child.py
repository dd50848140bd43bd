"""The child side of :class:`~windvane.core.forking.handle.ForkedChild`: one forked process, one result.

In this order the child: freezes the objects it inherited out of the garbage
collector's reach, starts its own session (and so process group), restores default signal
handling, asks Linux to SIGKILL it if its parent dies, runs the caller's
``after_fork`` hook, optionally sends its stdio to a file, runs the body and
writes the bytes it returns to the pipe, prefixed with their length
(:data:`RESULT_LENGTH`), then ``os._exit``\\ s: with 0, with the code of a
``SystemExit``, or with :data:`CHILD_INTERNAL_ERROR` (and a traceback on
stderr) if anything raised.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import gc
import importlib
import os
import signal
import struct
import sys
from collections.abc import Callable
from typing import NoReturn

from windvane.core.forking.containment import forget_in_child
from windvane.core.forking.subreaper import become_subreaper, end_descendants

#: Exit code of a child whose body or setup raised (Windvane's fault, not the task's outcome).
CHILD_INTERNAL_ERROR = 70
#: The header of the result: its length in bytes.
RESULT_LENGTH = struct.Struct("!Q")
#: Signals whose handlers the child must not inherit from its supervisor.
RESET_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGCHLD,
    signal.SIGALRM,
    signal.SIGHUP,
    signal.SIGUSR1,
)
_PR_SET_PDEATHSIG = 1
#: :data:`RESET_SIGNALS` as plain numbers, for :data:`_set_handler`.
_RESET_SIGNUMS = tuple(int(signum) for signum in RESET_SIGNALS)
_SIG_DFL = int(signal.SIG_DFL)


def _c_set_handler() -> Callable[[int, int], object]:
    """``signal.signal`` without its enum conversions (the ``_signal`` C function): in a freshly
    forked child each conversion walks the enum classes, a few copy-on-write faults per signal."""
    try:
        setter: Callable[[int, int], object] = importlib.import_module("_signal").signal
    except (ImportError, AttributeError):  # another implementation: the public function
        return signal.signal
    return setter


_set_handler = _c_set_handler()


def child_run(
    body: Callable[[], bytes],
    read_fd: int,
    write_fd: int,
    parent_pid: int,
    *,
    after_fork: Callable[[], None] | None = None,
    stdio: str | None = None,
    memory_limit_bytes: int = 0,
    enter: Callable[[], None] | None = None,
    subreaper: bool = False,
    sweep_grace: float = 0.0,
) -> NoReturn:
    """Everything the child does: set itself up, run ``body``, write its result, exit.

    ``after_fork`` runs right after the standard setup (e.g. to forget inherited database
    connections without closing them under the parent). ``stdio`` is a file to append stdout
    and stderr to (stdin then reads ``/dev/null``); None keeps the parent's.
    ``memory_limit_bytes`` (0: none) caps the child's address space (``RLIMIT_AS``): an
    allocation past it raises ``MemoryError`` in the child. ``enter`` (first of all) moves it
    into its cgroup. With ``subreaper`` it adopts its orphaned descendants and, once the body
    returned (or raised), ends every descendant (SIGTERM, ``sweep_grace`` seconds, SIGKILL)
    before it reports.
    """
    code = CHILD_INTERNAL_ERROR
    swept = False
    # Inherited objects go to the permanent generation: the child's collections never walk
    # (and so never copy) the parent's memory. O(1); the parent is unaffected.
    gc.freeze()
    try:
        os.close(read_fd)
        if enter is not None:
            _enter(enter)
        try:  # a session of its own: everything it starts can be found and ended after it
            os.setsid()
        except OSError:
            with contextlib.suppress(OSError):
                os.setpgid(0, 0)
        if subreaper:
            become_subreaper()
        forget_in_child()
        for signum in _RESET_SIGNUMS:
            _set_handler(signum, _SIG_DFL)
        _die_with_parent(parent_pid)
        if memory_limit_bytes > 0:
            limit_memory(memory_limit_bytes)
        if after_fork is not None:
            after_fork()
        if stdio is not None:
            redirect_stdio(stdio)
        payload = body()
        _flush()
        if subreaper:  # nothing of it may outlive its report
            swept = True
            end_descendants(sweep_grace)
        write_result(write_fd, payload)
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
    finally:
        if subreaper and not swept:
            with contextlib.suppress(BaseException):
                end_descendants(sweep_grace)
        os._exit(code)


def _enter(enter: Callable[[], None]) -> None:
    """Move into the cgroup; if that fails, say so and go on (the session and the subreaper
    still contain the child)."""
    try:
        enter()
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.write(2, f"windvane: cannot enter the child's cgroup: {exc}\n".encode())


def limit_memory(limit_bytes: int) -> None:
    """Cap this process's address space (and its children's) at ``limit_bytes``."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit_bytes = min(limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, hard))


def write_result(fd: int, payload: bytes) -> None:
    """Write ``payload`` to ``fd`` framed by its length (blocks while the reader catches up)."""
    view = memoryview(RESULT_LENGTH.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def redirect_stdio(path: str) -> None:
    """fd 0 reads ``/dev/null``; fd 1 and 2, ``sys.stdout``/``sys.stderr`` and faulthandler append to
    ``path``."""
    null_in = os.open(os.devnull, os.O_RDONLY)
    sink = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null_in, 0)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    os.close(null_in)
    os.close(sink)
    # Fresh streams on the new fds: the inherited ones may write elsewhere (a test runner's capture).
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    faulthandler.enable(file=2)  # a crash in an extension module leaves its traceback in the file


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


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


def signal_on_parent_death(signum: int) -> bool:
    """Linux only: have the kernel send ``signum`` to this process when its parent dies. False
    where that is not possible (the caller then checks ``os.getppid()`` itself)."""
    if _prctl is None:
        return False
    try:
        _prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except OSError:
        return False
    return True


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
