"""How the processes of a try or a parse are contained: the mode, detected once per process.

``[core] process_containment`` picks one of :data:`MODES`:

* ``group``: the child's session is swept after it (SIGTERM, grace, SIGKILL); a descendant
  that starts a session of its own escapes;
* ``subreaper`` (Linux): also, every supervised child is a child subreaper and ends all its
  descendants before it reports, and a supervising worker or DAG processor adopts and ends
  what a child killed with SIGKILL left;
* ``cgroup`` (Linux with a writable cgroup): also, each child runs in a cgroup of its own
  (:mod:`.cells`), emptied with SIGKILL and removed after it; a memory limit is the cgroup's,
  and an OOM kill is told apart. Fails with :class:`~windvane.errors.ContainmentError` when
  no writable cgroup is found;
* ``auto``: ``cgroup`` where a writable cgroup is found, else ``subreaper`` on Linux, else
  ``group``.

The edge calls :func:`install` once when a process starts (with ``adopt_orphans`` in the
processes that only supervise children: a LocalExecutor or Celery worker, the DAG processor);
:func:`current` is what :class:`~windvane.core.forking.handle.ForkedChild` uses (``auto``,
without adopting, when nothing was installed). A forked child uses no cells of its own: what it
forks stays in its cell.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Literal

from windvane.core.forking.cells import Cells
from windvane.core.forking.cgroup_v1 import CgroupV1Cells
from windvane.core.forking.cgroup_v2 import CgroupV2Cells
from windvane.core.forking.no_cgroup import NoCells
from windvane.core.forking.subreaper import become_subreaper
from windvane.errors import ContainmentError

Mode = Literal["auto", "cgroup", "subreaper", "group"]
MODES: tuple[Mode, ...] = ("auto", "cgroup", "subreaper", "group")
_LINUX = sys.platform.startswith("linux")
_KEY = "[core] process_containment"
_Kind = type[CgroupV1Cells] | type[CgroupV2Cells]


@dataclass(frozen=True, slots=True)
class Containment:
    """The containment in effect: ``mode`` (never ``auto``), the cells (:class:`NoCells` unless
    ``cgroup``) and whether children are subreapers."""

    mode: Mode
    cells: Cells
    subreaper: bool

    def describe(self) -> str:
        """One line for the logs: ``cgroup (cgroup v1 memory under /sys/fs/cgroup/memory/x)``."""
        where = getattr(self.cells, "root", None)
        return f"{self.mode} ({self.cells.name} under {where})" if where else self.mode


_installed: Containment | None = None
#: What :func:`forget_in_child` makes current in a forked child of a process with ``_installed``
#: (built here once: in the child each new object costs copy-on-write faults).
_in_children: Containment | None = None


def detect(mode: str) -> Containment:
    """The containment for ``mode`` on this machine; :class:`ContainmentError` when ``mode`` is
    unknown, or ``cgroup``/``subreaper`` cannot be had here (the message says why)."""
    if mode not in MODES:
        raise ContainmentError(f"{_KEY} must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "group":
        return Containment("group", NoCells(), False)
    if mode == "subreaper":
        if not _LINUX:
            raise ContainmentError(
                f"[core] process_containment = 'subreaper' needs Linux, not {sys.platform}"
            )
        return Containment("subreaper", NoCells(), True)
    cells, why = find_cells()
    if cells is not None:
        return Containment("cgroup", cells, True)
    if mode == "cgroup":
        raise ContainmentError(
            f"[core] process_containment = 'cgroup' but no writable cgroup was found: {why}"
        )
    return Containment("subreaper", NoCells(), True) if _LINUX else Containment("group", NoCells(), False)


def install(mode: str, *, adopt_orphans: bool = False) -> Containment:
    """Detect ``mode`` (see :func:`detect`), remove the cells that processes gone since left
    behind, and make it this process's containment; with ``adopt_orphans`` (and a subreaper
    mode) this process becomes a child subreaper too."""
    global _installed, _in_children
    containment = detect(mode)
    containment.cells.remove_leftovers()
    if adopt_orphans and containment.subreaper:
        become_subreaper()
    _installed = containment
    _in_children = Containment(containment.mode, NoCells(), containment.subreaper)
    return containment


def current() -> Containment:
    """The installed containment (``auto``, not adopting orphans, when none was installed)."""
    if _installed is None:
        return install("auto")
    return _installed


def forget_in_child() -> None:
    """In a forked child: keep the subreaper setting but make no cells (nested children stay in
    the child's own cell)."""
    global _installed
    parent = current()
    if _in_children is not None and (_in_children.mode, _in_children.subreaper) == (
        parent.mode,
        parent.subreaper,
    ):
        _installed = _in_children
    else:
        _installed = Containment(parent.mode, NoCells(), parent.subreaper)


def find_cells() -> tuple[Cells | None, str]:
    """The cells this process can make: v2 with a memory controller, else v1 ``memory``, else
    v2 without one; (None, why not) when none is writable."""
    if not _LINUX:
        return None, f"cgroups are Linux only, not {sys.platform}"
    try:
        with open("/proc/self/cgroup") as own:
            lines = own.read().splitlines()
        with open("/proc/self/mountinfo") as mounts:
            mountinfo = mounts.read().splitlines()
    except OSError as exc:
        return None, f"cannot read /proc/self/cgroup or mountinfo: {exc}"
    v1_path = v2_path = None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "" and line.startswith("0::"):
            v2_path = path
        elif "memory" in controllers.split(","):
            v1_path = path
    v2_root = _mounted(mountinfo, "cgroup2", None, v2_path)
    v1_root = _mounted(mountinfo, "cgroup", "memory", v1_path)
    tried: list[str] = []
    v2 = _writable(v2_root, tried, CgroupV2Cells)
    if v2 is not None and v2.limits_memory:
        return v2, ""
    v1 = _writable(v1_root, tried, CgroupV1Cells)
    if v1 is not None:
        return v1, ""
    if v2 is not None:
        return v2, ""
    return None, "; ".join(tried) or "no cgroup hierarchy is mounted for this process"


def _mounted(mountinfo: list[str], fstype: str, option: str | None, path: str | None) -> str | None:
    """Where the hierarchy holding ``path`` is mounted (its root must be a prefix of ``path``)."""
    if path is None:
        return None
    for line in mountinfo:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] != fstype:
            continue
        if option is not None and option not in tail[2].split(","):
            continue
        root, point = fields[3], fields[4]
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return os.path.join(point, path[len(root) :].lstrip("/")).rstrip("/") or "/"
    return None


def _writable(
    root: str | None, tried: list[str], kind: type[CgroupV1Cells] | type[CgroupV2Cells]
) -> Cells | None:
    """Cells under ``root`` if a cell can be made there and a process moved in."""
    if root is None:
        return None
    if not os.access(os.path.join(root, "cgroup.procs"), os.W_OK):
        tried.append(f"{root}/cgroup.procs is not writable")
        return None
    probe = os.path.join(root, f"windvane-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except FileExistsError:  # a probe of an earlier process with this pid
        with contextlib.suppress(OSError):
            os.rmdir(probe)
    except OSError as exc:
        tried.append(f"cannot make a cgroup under {root}: {exc.strerror or exc}")
        return None
    return kind(root)
