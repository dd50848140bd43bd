"""Choosing the containment: modes, detection, the cgroup mount found from /proc."""

from __future__ import annotations

import sys

import pytest

from windvane.core.forking import containment
from windvane.core.forking.containment import _mounted, detect
from windvane.errors import ConfigError, ContainmentError

MOUNTINFO = [
    "30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:11 - cgroup cgroup rw,memory",
    "31 25 0:27 / /sys/fs/cgroup/pids rw,relatime shared:12 - cgroup cgroup rw,pids",
    "35 25 0:31 / /sys/fs/cgroup/unified rw,relatime shared:16 - cgroup2 cgroup2 rw",
    "40 22 0:40 /sub /mnt/delegated rw,relatime - cgroup2 cgroup2 rw",
]


def test_the_hierarchy_holding_the_process_is_found_under_its_mount_point() -> None:
    assert _mounted(MOUNTINFO, "cgroup", "memory", "/process_api/x") == "/sys/fs/cgroup/memory/process_api/x"
    assert _mounted(MOUNTINFO, "cgroup2", None, "/") == "/sys/fs/cgroup/unified"
    # A mount of a sub-tree (a container's view) holds only paths below its root.
    assert _mounted(MOUNTINFO[3:], "cgroup2", None, "/sub/worker") == "/mnt/delegated/worker"
    assert _mounted(MOUNTINFO[3:], "cgroup2", None, "/other") is None
    assert _mounted(MOUNTINFO, "cgroup", "cpu", "/") is None
    assert _mounted(MOUNTINFO, "cgroup", "memory", None) is None


def test_an_unknown_mode_names_the_key() -> None:
    with pytest.raises(ContainmentError, match=r"\[core\] process_containment must be one of"):
        detect("cgroups")
    assert issubclass(ContainmentError, ConfigError)


def test_cgroup_without_a_writable_cgroup_fails_clearly_and_auto_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        containment, "find_cells", lambda: (None, "/sys/fs/cgroup/x/cgroup.procs is not writable")
    )
    with pytest.raises(ContainmentError, match=r"'cgroup' but no writable cgroup.*not writable"):
        detect("cgroup")
    fallback = detect("auto")
    assert fallback.mode == ("subreaper" if sys.platform.startswith("linux") else "group")
    assert fallback.cells.open(1 << 20) is None


def test_group_mode_has_no_subreaper_nor_cells() -> None:
    chosen = detect("group")
    assert (chosen.mode, chosen.subreaper, chosen.cells.name) == ("group", False, "none")
    assert chosen.describe() == "group"
