"""Cells in the cgroup v1 ``memory`` hierarchy: :class:`CgroupV1Cells`.

Each cell is a memory cgroup under the one this process is in (``/proc/self/cgroup``'s
``memory:`` line, under the hierarchy's mount point); its limit is ``memory.limit_in_bytes``
(and ``memory.memsw.limit_in_bytes`` where swap is accounted, so swapping does not escape it);
the OOM killer's kills in it are ``memory.oom_control``'s ``oom_kill``. v1 has no atomic kill:
the cell is emptied by SIGKILLing what it lists until nothing is left.
"""

from __future__ import annotations

import contextlib
import os

from windvane.core.forking.cells import CgroupCells, read_counter


class CgroupV1Cells(CgroupCells):
    """Cells as v1 memory cgroups under ``root`` (see the module doc)."""

    name = "cgroup v1 memory"
    limits_memory = True

    def set_memory_limit(self, path: str, limit_bytes: int) -> None:
        """``memory.limit_in_bytes``, and the same for memory plus swap when it is accounted."""
        with open(os.path.join(path, "memory.limit_in_bytes"), "w") as limit:
            limit.write(str(limit_bytes))
        swap = os.path.join(path, "memory.memsw.limit_in_bytes")
        if os.path.exists(swap):
            with contextlib.suppress(OSError), open(swap, "w") as limit:
                limit.write(str(limit_bytes))

    def oom_kills(self, path: str) -> int:
        """``oom_kill`` of ``memory.oom_control`` (kernels 4.13 and later)."""
        return read_counter(os.path.join(path, "memory.oom_control"), "oom_kill")
