"""Cells in the unified cgroup v2 hierarchy: :class:`CgroupV2Cells`.

Each cell is a cgroup under the one this process is in (``/proc/self/cgroup``'s ``0::`` line,
under the cgroup2 mount point). It is killed at once with ``cgroup.kill`` (Linux 5.14+; else
by SIGKILLing what it lists until nothing is left). It limits memory (``memory.max``,
``memory.swap.max``; OOM kills from ``memory.events``) only when the ``memory`` controller is
enabled for this process's cgroup's children (``cgroup.subtree_control``): v2 allows that only
for a cgroup holding no process itself (e.g. a delegated subtree whose supervisor sits in a
leaf of its own) or the root. Without it the memory limit stays ``RLIMIT_AS``.
"""

from __future__ import annotations

import contextlib
import os

from windvane.core.forking.cells import CgroupCells, read_counter


class CgroupV2Cells(CgroupCells):
    """Cells as v2 cgroups under ``root`` (see the module doc)."""

    name = "cgroup v2"

    def __init__(self, root: str) -> None:
        super().__init__(root)
        try:
            with open(os.path.join(root, "cgroup.subtree_control")) as control:
                self.limits_memory = "memory" in control.read().split()
        except OSError:
            self.limits_memory = False

    def set_memory_limit(self, path: str, limit_bytes: int) -> None:
        """``memory.max``, and no swap beyond it (``memory.swap.max`` 0, where it exists)."""
        with open(os.path.join(path, "memory.max"), "w") as limit:
            limit.write(str(limit_bytes))
        swap = os.path.join(path, "memory.swap.max")
        if os.path.exists(swap):
            with contextlib.suppress(OSError), open(swap, "w") as limit:
                limit.write("0")

    def oom_kills(self, path: str) -> int:
        """``oom_kill`` of ``memory.events``."""
        return read_counter(os.path.join(path, "memory.events"), "oom_kill")

    def kill_now(self, path: str) -> bool:
        """``cgroup.kill``: every process in the cell SIGKILLed by the kernel, forks included."""
        try:
            with open(os.path.join(path, "cgroup.kill"), "w") as kill:
                kill.write("1")
        except OSError:
            return False
        return True
