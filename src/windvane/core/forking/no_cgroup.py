"""No cells: :class:`NoCells`, the containment of the ``subreaper`` and ``group`` modes and of
machines without a writable cgroup. Every call does nothing; the child caps its own address
space (``RLIMIT_AS``) when a memory limit is asked for.
"""

from __future__ import annotations

from windvane.core.forking.cells import Cell, CellEnd


class NoCells:
    """Children are not put in cgroups (see the module doc)."""

    name = "none"
    limits_memory = False

    def open(self, memory_limit_bytes: int = 0) -> Cell | None:
        """No cell."""
        return None

    def enter(self, cell: Cell) -> None:
        """Nothing to enter."""

    def close(self, cell: Cell) -> CellEnd:
        """Nothing to close."""
        return CellEnd()

    def remove_leftovers(self) -> int:
        """Nothing left over."""
        return 0
