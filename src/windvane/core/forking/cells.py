"""A cgroup per supervised child: the interface (:class:`Cells`) and what its cgroup
implementations share (:class:`CgroupCells`).

Before each fork the supervisor opens a :class:`Cell` (a cgroup made under its own, optionally
with a memory limit); the child :meth:`~Cells.enter`\\ s it first thing, so every process it ever
starts is in it, whatever session or process group it moves to, and whoever its parent
becomes. Once the child has ended, :meth:`~Cells.close` SIGKILLs every process left in the cell
until it is empty (after the gentler session and subreaper sweeps had their grace period), reads
whether the kernel's OOM killer struck in it, and removes it.

Cells are named ``windvane-<pid>-<start>-<n>`` after the process that made them (its pid and
start time): :meth:`~Cells.remove_leftovers`, called when a process starts using cells, empties
and removes those whose maker is gone (a worker killed with SIGKILL).

Implementations, one per file: :mod:`.cgroup_v2` (the unified hierarchy), :mod:`.cgroup_v1`
(the v1 ``memory`` controller), :mod:`.no_cgroup` (none: every call does nothing).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Protocol

#: Prefix of every cell's directory name.
CELL_PREFIX = "windvane-"
#: The numbers of this process's cells (one counter for every instance: a cell still closing keeps
#: its number while a newer instance makes cells).
_numbers = itertools.count(1)
#: How long a closing cell is given to empty after SIGKILL.
_EMPTY_WAIT_SECONDS = 2.0
_RECHECK_SECONDS = 0.005


@dataclass(frozen=True, slots=True)
class Cell:
    """One child's cgroup: its directory and the memory limit it enforces (0: none, the child then
    caps its address space itself)."""

    path: str
    memory_limit_bytes: int = 0


@dataclass(frozen=True, slots=True)
class CellEnd:
    """What closing a cell found: processes killed in it, OOM kills the kernel made in it, and
    whether its directory is gone."""

    killed: int = 0
    oom_kills: int = 0
    removed: bool = True


class Cells(Protocol):
    """Where supervised children are contained (see the module doc)."""

    #: ``"cgroup v2"``, ``"cgroup v1 memory"`` or ``"none"``.
    name: str
    #: Whether a cell can enforce a memory limit.
    limits_memory: bool

    def open(self, memory_limit_bytes: int = 0) -> Cell | None:
        """A new cell for the next child (None: this containment has no cells)."""
        ...

    def enter(self, cell: Cell) -> None:
        """Move the calling process (a freshly forked child) into ``cell``."""
        ...

    def close(self, cell: Cell) -> CellEnd:
        """Kill what is left in ``cell`` (loop until empty) and remove it."""
        ...

    def remove_leftovers(self) -> int:
        """Empty and remove the cells of processes that are gone; how many were removed."""
        ...


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot, ``/proc/<pid>/stat`` field 22); None
    when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            raw = stat.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else None


class CgroupCells:
    """Cells as directories under ``root`` (the cgroup this process is in); subclasses say how a
    memory limit is set, how OOM kills are counted and how a cell is killed at once."""

    name = "cgroup"
    limits_memory = False

    def __init__(self, root: str) -> None:
        self.root = root
        self._maker = ""
        #: Cells whose directory could not be removed yet (retried at each open and close).
        self._stale: list[str] = []

    def _prefix(self) -> str:
        if not self._maker or not self._maker.startswith(f"{CELL_PREFIX}{os.getpid()}-"):
            self._maker = f"{CELL_PREFIX}{os.getpid()}-{process_start(os.getpid()) or 0}-"
        return self._maker

    def open(self, memory_limit_bytes: int = 0) -> Cell | None:
        """See :meth:`Cells.open`; OSError when the cell cannot be made."""
        self._retry_stale()
        while True:
            path = os.path.join(self.root, f"{self._prefix()}{next(_numbers)}")
            try:
                os.mkdir(path)
                break
            except FileExistsError:  # a cell of an earlier process with this pid and start
                continue
        limit = 0
        if memory_limit_bytes > 0 and self.limits_memory:
            try:
                self.set_memory_limit(path, memory_limit_bytes)
                limit = memory_limit_bytes
            except OSError:
                limit = 0
        return Cell(path, limit)

    def enter(self, cell: Cell) -> None:
        """See :meth:`Cells.enter`."""
        # Raw descriptors, no file object: this runs in every freshly forked child, where each
        # page touched is a copy-on-write fault.
        fd = os.open(cell.path + "/cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)

    def close(self, cell: Cell) -> CellEnd:
        """See :meth:`Cells.close`."""
        killed = _kill_all(cell.path, self.kill_now)
        oom = self.oom_kills(cell.path)
        removed = _remove(cell.path)
        if not removed:
            self._stale.append(cell.path)
        self._retry_stale()
        return CellEnd(killed, oom, removed)

    def remove_leftovers(self) -> int:
        """See :meth:`Cells.remove_leftovers`."""
        removed = 0
        try:
            names = os.listdir(self.root)
        except OSError:
            return 0
        for name in names:
            if not name.startswith(CELL_PREFIX):
                continue
            parts = name[len(CELL_PREFIX) :].split("-")
            if len(parts) != 3 or not all(part.isdigit() for part in parts):
                continue
            pid, start = int(parts[0]), int(parts[1])
            if pid == os.getpid() or (process_start(pid) == start and start):
                continue  # its maker still runs
            path = os.path.join(self.root, name)
            _kill_all(path, self.kill_now)
            removed += _remove(path)
        return removed

    def set_memory_limit(self, path: str, limit_bytes: int) -> None:
        """Make ``limit_bytes`` the cell's memory limit (OSError if it cannot)."""
        raise OSError("no memory controller")

    def oom_kills(self, path: str) -> int:
        """How many processes the OOM killer ended in the cell."""
        return 0

    def kill_now(self, path: str) -> bool:
        """Kill every process in the cell in one step if the kernel can (True), else False."""
        return False

    def _retry_stale(self) -> None:
        for path in list(self._stale):
            if _remove(path):
                self._stale.remove(path)


def cell_pids(path: str) -> list[int]:
    """The processes in the cell and in the cgroups made under it (zombies are not listed); []
    when it is gone."""
    pids: list[int] = []
    try:
        with open(os.path.join(path, "cgroup.procs"), "rb") as procs:
            pids.extend(int(pid) for pid in procs.read().split())
    except OSError:
        return pids
    for sub in _subgroups(path):
        pids.extend(cell_pids(sub))
    return pids


def _subgroups(path: str) -> list[str]:
    # A cgroup directory's link count is 2 plus its subdirectories (kernfs keeps it): one stat
    # instead of listing its ≈ 30 control files, twice for every child that ends.
    try:
        if os.stat(path).st_nlink == 2:
            return []
    except OSError:
        return []
    try:
        with os.scandir(path) as entries:
            return [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def read_counter(path: str, key: str) -> int:
    """The value of ``key`` in a flat-keyed cgroup file (``oom_kill 3``); 0 if absent."""
    try:
        with open(path, "rb") as lines:
            for line in lines:
                name, _, value = line.partition(b" ")
                if name.decode() == key:
                    return int(value)
    except (OSError, ValueError):
        return 0
    return 0


def _kill_all(path: str, kill_now: object) -> int:
    """SIGKILL every process in the cell, again and again, until it is empty (bounded)."""
    first = cell_pids(path)
    if not first:
        return 0
    at_once = callable(kill_now) and kill_now(path)
    stop = time.monotonic() + _EMPTY_WAIT_SECONDS
    while True:
        left = cell_pids(path)
        if not left or time.monotonic() >= stop:
            break
        if not at_once:
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(_RECHECK_SECONDS)
    if cell_pids(path):
        print(f"windvane: processes left in cgroup {path} after SIGKILL", file=sys.stderr)
    return len(first)


def _remove(path: str) -> bool:
    """Remove the cell and, first, the cgroups made under it (a nested supervisor's)."""
    for sub in _subgroups(path):
        _remove(sub)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
