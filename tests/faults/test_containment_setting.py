"""``[core] process_containment`` at the edge: a mode this machine cannot give fails the command at
its start, naming the key and why; a mode it can give is what the command's children get."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.conftest import RunCliLike
from tests.faults.containment import contained
from windvane.core.forking import containment


@pytest.fixture(autouse=True)
def _restore_containment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(containment, "_installed", containment._installed)


def test_cgroup_without_a_writable_cgroup_fails_the_command_naming_the_key(
    run_cli: RunCliLike, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINDVANE__CORE__PROCESS_CONTAINMENT", "cgroup")
    monkeypatch.setattr(
        containment, "find_cells", lambda: (None, "/sys/fs/cgroup/x/cgroup.procs is not writable")
    )
    result = run_cli("dag-processor", "--num-runs", "1")
    assert result.code == 1
    assert "[core] process_containment = 'cgroup' but no writable cgroup was found" in result.err
    assert "cgroup.procs is not writable" in result.err


def test_an_unknown_mode_is_refused_naming_the_key(
    run_cli: RunCliLike, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINDVANE__CORE__PROCESS_CONTAINMENT", "jail")
    result = run_cli("db", "migrate")
    assert result.code != 0
    assert "process_containment" in result.err


def test_the_mode_asked_for_is_installed(run_cli: RunCliLike, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINDVANE__CORE__PROCESS_CONTAINMENT", "group")
    assert run_cli("db", "migrate").code == 0
    assert containment.current().mode == "group"


def test_leftover_cells_of_a_dead_process_are_emptied_and_removed() -> None:
    with contained("cgroup") as containment:
        cells = containment.cells
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
        )
        root = getattr(cells, "root")  # noqa: B009 (a CgroupCells)
        path = os.path.join(root, f"windvane-{int(dead.stdout)}-1-1")
        os.mkdir(path)
        stray = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)"], stdin=subprocess.DEVNULL
        )
        Path(path, "cgroup.procs").write_text(str(stray.pid))
        assert cells.remove_leftovers() >= 1  # and those of earlier test processes killed mid-test
        assert stray.wait(timeout=5) == -9
        assert not os.path.exists(path)


def test_closing_a_cell_empties_and_removes_the_cgroups_made_under_it() -> None:
    # A cell's subgroups are found from its link count (2 + subdirectories) before it is listed.
    with contained("cgroup") as containment:
        cells = containment.cells
        plain, nested = cells.open(), cells.open()
        assert plain is not None and nested is not None
        inner = os.path.join(nested.path, "inner")
        os.mkdir(inner)
        stray = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)"], stdin=subprocess.DEVNULL
        )
        Path(inner, "cgroup.procs").write_text(str(stray.pid))
        assert cells.close(plain).removed and not os.path.exists(plain.path)
        end = cells.close(nested)
        assert end.removed and end.killed == 1
        assert stray.wait(timeout=5) == -9
        assert not os.path.exists(nested.path)
