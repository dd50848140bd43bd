"""A fork without CPython's after-fork repairs, for a supervisor with one thread: :func:`lean_fork`.

``os.fork()`` does, in the child, what a fork from a process with several threads needs: CPython
re-creates its GIL, import lock and runtime locks, then runs every ``os.register_at_fork`` hook
(``threading`` rebuilds its locks and thread tables, ``logging`` re-creates every handler's lock,
``random`` reseeds). All of it repairs state that *another* thread may have held or half-written
at the fork. In a child of the parse template (one thread, nothing but Windvane imported) it
costs ≈ 0.8 ms of CPU and ≈ 210 copy-on-write faults in a child that only exits (1.48 vs 0.67 ms);
in a B3 parse child, which touches many of those pages anyway, ≈ 65 faults and 6 % of its CPU.

:func:`lean_fork` calls the C library's ``fork()`` directly (through ``ctypes.PyDLL``, so the GIL
stays held and the child resumes exactly where the parent was) when the calling process has
exactly one thread, and then does in the child the one repair that matters without threads:
``random`` is reseeded when it is imported, so that no two children draw the same numbers. Where
that is not possible (not Linux, no ``ctypes``, more than one thread) it is ``os.fork()``.

Only for a caller that knows what was registered with ``os.register_at_fork`` in its process
and that none of it is needed in its children (the parse template: see
:mod:`windvane.core.processor.template`); the hooks are not run.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import sys
from collections.abc import Callable, Iterable

__all__ = ["lean_fork", "single_threaded"]


def _load_fork() -> Callable[[], int] | None:
    """libc's ``fork``, called with the GIL held (``PyDLL``); None where there is none to call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fork: Callable[[], int] = ctypes.PyDLL(None, use_errno=True).fork
    except (OSError, AttributeError):
        return None
    fork.restype = ctypes.c_int  # type: ignore[attr-defined]
    fork.argtypes = ()  # type: ignore[attr-defined]
    return fork


def _load_sigmask() -> Callable[[int, Iterable[int]], set[int]]:
    """``signal.pthread_sigmask`` without its enum conversions (the ``_signal`` C function): the
    public one turns each signal of the mask it returns into a ``Signals`` member, ≈ 50 µs and a
    few dozen objects per fork in the template, each a copy-on-write fault."""
    try:
        sigmask: Callable[[int, Iterable[int]], set[int]] = importlib.import_module("_signal").pthread_sigmask
    except (ImportError, AttributeError):  # another implementation: the public function
        return signal.pthread_sigmask
    return sigmask


_c_fork = _load_fork()
_sigmask = _load_sigmask()
_ALL_SIGNALS = frozenset(int(signum) for signum in signal.valid_signals())


def single_threaded() -> bool:
    """Whether this process has exactly one thread (False if that cannot be told)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1  # one name: fewer objects than parsing stat
    except OSError:
        return False


def lean_fork() -> int:
    """Fork like ``os.fork()`` (0 in the child, the child's pid in the parent), skipping
    CPython's after-fork work when this process has one thread (see the module doc)."""
    if _c_fork is None or not single_threaded():
        return os.fork()
    # Signals are blocked across the fork: ``os.fork()`` clears, in the child, the signals the
    # parent caught but had not handled yet; here none can be caught in between instead (each
    # mask call runs the Python handlers of those already caught, in the parent, before the fork),
    # and one that arrives meanwhile waits for the parent (a child does not inherit it).
    mask = _sigmask(signal.SIG_BLOCK, ())
    try:
        _sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)
        pid = _c_fork()
    finally:
        _sigmask(signal.SIG_SETMASK, mask)
    if pid < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    if pid == 0:
        _after_in_child()
    return pid


def _after_in_child() -> None:
    random = sys.modules.get("random")
    if random is not None:  # random's own at-fork hook: no two children draw the same numbers
        random.seed()
