"""Running a test under one ``[core] process_containment`` mode, and finding marked processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.forking.helpers import gone
from windvane.core.forking import containment as containment_module
from windvane.core.forking.containment import Containment, detect, find_cells
from windvane.core.forking.handle import reap_exited


def cgroup_or_skip() -> None:
    """Skip (with the reason) when this machine has no writable cgroup; with ``CI=true`` that is a
    failure: CI's machine has one."""
    cells, why = find_cells()
    if cells is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have a writable cgroup: {why}")
        pytest.skip(f"no writable cgroup here: {why}")


@contextmanager
def contained(mode: str) -> Iterator[Containment]:
    """This process forks its children under ``mode`` while the block runs (the cells' parent
    stays whatever is installed; no orphans adopted)."""
    if mode == "cgroup":
        cgroup_or_skip()
    before = containment_module._installed
    chosen = detect(mode)
    containment_module._installed = chosen
    try:
        yield chosen
    finally:
        reap_exited()  # the cells of children that reported are removed once they are reaped
        containment_module._installed = before


def marked(marker: str) -> list[int]:
    """Live processes whose argv holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and not gone(int(entry)):
            found.append(int(entry))
    return found


def cells_left(containment: Containment) -> list[str]:
    """The cell directories this process made that still exist."""
    root = getattr(containment.cells, "root", None)
    if root is None:
        return []
    prefix = f"windvane-{os.getpid()}-"
    return [name for name in os.listdir(root) if name.startswith(prefix)]
