"""Orphans come to us: the child subreaper (Linux) and ending every descendant.

A process that calls :func:`become_subreaper` (``prctl(PR_SET_CHILD_SUBREAPER)``) adopts its
orphaned descendants: a process whose parent died is reparented to its nearest subreaper
ancestor instead of init, even one that started a session of its own (``setsid``, a daemon's
double fork). Every supervised child is a subreaper (:mod:`.child`), so whatever a try or a parse
leaves running stays among its descendants, and the child ends them all before it reports
(:func:`end_descendants`). A supervising process that is a subreaper too (a worker, the DAG
processor) adopts what a child killed with SIGKILL left behind, and
:func:`end_adopted` ends those: its children in a session other than its own that are not
children it forked and still supervises. :func:`end_sessions` ends those of given sessions only
(the DAG processor, whose parse template died: its parse children, and theirs, come to it).

Descendants are found in ``/proc/<pid>/task/<tid>/children`` (every thread's children), or, on
kernels without that file, by one scan of ``/proc/*/stat``. Elsewhere than Linux everything here
does nothing (returns False or 0).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Collection

_PR_SET_CHILD_SUBREAPER = 36
_PROC = "/proc"
#: How often the ending looks again while it waits for SIGTERMed processes to go.
_RECHECK_SECONDS = 0.01
#: How long processes SIGKILLed are waited for (SIGKILL cannot be caught: moments).
_KILL_WAIT_SECONDS = 2.0
#: How many times :func:`kill_tree` looks for descendants at most.
_KILL_ROUNDS = 5
#: Whether this process made itself a subreaper (inherited by a fork: a child calls it again).
_subreaper = False


def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux); True when it does."""
    global _subreaper
    if _prctl is None:
        return False
    try:
        ok = _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except OSError:
        ok = False
    _subreaper = ok
    return ok


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once (in the supervisor, not in every child)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_prctl = _load_prctl()


def is_subreaper() -> bool:
    """Whether :func:`become_subreaper` succeeded in this process."""
    return _subreaper


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, session) of ``pid``; None when it is gone."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as stat:
            raw = stat.read()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    fields = raw[raw.rfind(b")") + 2 :].split()
    if len(fields) < 4:
        return None
    return fields[0].decode(), int(fields[1]), int(fields[3])


def children_of(pid: int) -> list[int]:
    """The children of ``pid`` (zombies included), [] when it is gone or elsewhere than Linux."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        tids = os.listdir(f"{_PROC}/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tids:
        try:
            with open(f"{_PROC}/{pid}/task/{tid}/children", "rb") as listing:
                found.extend(int(child) for child in listing.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"{_PROC}/{pid}"):
                return []
            return _children_by_scan(pid)  # a kernel without CONFIG_PROC_CHILDREN
        except OSError:  # the thread ended meanwhile
            continue
    return found


def _children_by_scan(pid: int) -> list[int]:
    found: list[int] = []
    for entry in os.listdir(_PROC):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == pid:
                found.append(int(entry))
    return found


def descendants_of(pid: int, roots: Collection[int] | None = None) -> list[int]:
    """The live (non-zombie) descendants of ``pid``; with ``roots``, only those children of
    ``pid`` and their descendants."""
    found: list[int] = []
    queue = list(children_of(pid) if roots is None else roots)
    seen: set[int] = set()
    while queue:
        current = queue.pop()
        if current in seen:
            continue
        seen.add(current)
        stat = _stat(current)
        if stat is None:
            continue
        if stat[0] != "Z":
            found.append(current)
        queue.extend(children_of(current))
    return found


def kill_tree(pid: int) -> int:
    """SIGKILL every descendant of ``pid`` (the caller then kills ``pid``): a supervised child is
    a subreaper, so while it lives every process it left is below it. Looks again until none is
    left (a process forking meanwhile), at most a few times. Returns how many were killed."""
    killed = 0
    for _ in range(_KILL_ROUNDS):
        left = descendants_of(pid)
        if not left:
            break
        _signal(left, signal.SIGKILL)
        killed += len(left)
    return killed


def end_descendants(grace: float, *, spare: Collection[int] = ()) -> int:
    """End every descendant of this process but the children in ``spare`` (and theirs):
    SIGTERM, up to ``grace`` seconds, SIGKILL (at once when ``grace`` is 0); reap those that are
    (or, being adopted, become) this process's children. Returns how many were found."""
    me = os.getpid()
    return _end(lambda: [c for c in children_of(me) if c not in spare], grace, spare)


def end_adopted(grace: float, *, spare: Collection[int] = ()) -> int:
    """End the orphans this subreaper adopted: its children in a session other than its own
    (every supervised child starts a session of its own, and what it starts has that session
    or one of its own) but those in ``spare`` (the children it forked and still supervises),
    with all their descendants. Does nothing unless this process is a subreaper."""
    if not _subreaper:
        return 0
    me = os.getpid()
    own_session = os.getsid(0)

    def adopted() -> list[int]:
        roots = []
        for child in children_of(me):
            stat = _stat(child)
            if child not in spare and stat is not None and stat[2] != own_session:
                roots.append(child)
        return roots

    return _end(adopted, grace, spare)


def end_sessions(sessions: Collection[int], grace: float) -> int:
    """End (and reap) this process's children in one of ``sessions`` with all their descendants:
    what a supervisor that died left to this subreaper (each supervised child leads a session of
    its own, so its pid is its session's id: its orphans, and it, have that session). Children
    in any other session are left alone. Returns how many processes were found alive."""
    if not sessions:
        return 0
    me = os.getpid()
    wanted = set(sessions)

    def orphans() -> list[int]:
        return [c for c in children_of(me) if (stat := _stat(c)) is not None and stat[2] in wanted]

    return _end(orphans, grace, ())


def _end(roots: Callable[[], list[int]], grace: float, spare: Collection[int]) -> int:
    me = os.getpid()
    known: set[int] = set()  # every process seen: only those are reaped (not a child of our own)

    def look() -> list[int]:
        top = roots()
        if not top and not known:  # the common case: nothing left, nothing to reap
            return []
        known.update(top)
        live = descendants_of(me, top)
        known.update(live)
        _reap(me, known, spare)
        return live

    first = look()
    if not first:
        return 0
    _signal(first, signal.SIGKILL if grace <= 0 else signal.SIGTERM)
    deadline = time.monotonic() + max(0.0, grace)
    while grace > 0 and time.monotonic() < deadline:
        if not look():
            return len(first)
        _pause(deadline)
    stop = time.monotonic() + _KILL_WAIT_SECONDS
    while True:
        left = look()
        if not left or time.monotonic() >= stop:
            return len(first)
        _signal(left, signal.SIGKILL)
        _pause(stop)


def _reap(me: int, known: Collection[int], spare: Collection[int]) -> None:
    """Collect the exit status of this process's dead children among ``known`` but ``spare``
    (adopted ones become our children when their parent dies: each look reaps them)."""
    for child in children_of(me):
        if child in spare or child not in known:
            continue
        stat = _stat(child)
        if stat is not None and stat[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, os.WNOHANG)


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def _pause(deadline: float) -> None:
    # A bounded pause between two looks at /proc: most of these processes are not ours to wait for.
    time.sleep(max(0.0, min(_RECHECK_SECONDS, deadline - time.monotonic())))
