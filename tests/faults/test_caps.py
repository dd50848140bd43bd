"""Issue 12, defect 11: a try's log has a size cap, tries and parses an optional memory limit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.faults.containment import contained
from windvane.core.processor.pool import parse_files
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.runner import log_path_for, run_workload
from windvane.core.worker.task_log import LogCap
from windvane.testing import queued_try, ti_row, write_dag_file

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc")

CAP = 64 * 1024

DAG_SOURCE = """
import os, sys, time
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import PythonOperator

def flood():
    for _ in range(50_000):
        print("x" * 99)

def flood_then_wait_for_the_cut():
    # Prints past the cap, then waits (bounded) until the worker cut the log while it runs.
    flood()
    sys.stdout.flush()
    log = os.readlink("/proc/self/fd/1")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if os.path.getsize(log) < 1_000_000:
            return "cut"
        time.sleep(0.05)
    raise RuntimeError("the log was not cut while the try ran")

def hog():
    return len(bytearray(8 << 30))

with DAG("caps", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    PythonOperator(task_id="flood", python_callable=flood)
    PythonOperator(task_id="flood_wait", python_callable=flood_then_wait_for_the_cut)
    PythonOperator(task_id="hog", python_callable=hog)
"""


def _vm_mib() -> int:
    """This process's address space now, in MiB (a limit must leave room for what it inherits)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmSize")


def _run(engine: Engine, tmp_path: Path, task_id: str, **limits: int) -> tuple[str, str, str]:
    dag_file = write_dag_file(tmp_path, DAG_SOURCE)
    wl = queued_try(engine, dag_file, "caps", task_id)
    logs = str(tmp_path / "logs")
    event = run_workload(wl, engine=engine, loader=DagLoader(), log_folder=logs, hostname="h", **limits)
    assert event.state is not None
    return event.state, ti_row(engine, wl.ti_id)["error"] or "", Path(log_path_for(logs, wl)).read_text()


@pytest.mark.parametrize("task_id", ["flood", "flood_wait"])
def test_a_log_past_the_cap_is_cut_with_a_marker(engine: Engine, tmp_path: Path, task_id: str) -> None:
    state, error, text = _run(engine, tmp_path, task_id, max_log_bytes=CAP)
    assert state == "success", error
    marker = LogCap("", CAP).marker().decode()
    assert marker.strip() in text
    # The cap, the marker and the lines the worker adds when the try ends.
    assert len(text.encode()) <= CAP + len(marker) + 1024


@pytest.mark.parametrize("mode", ["subreaper", "cgroup"])
def test_a_try_past_the_memory_limit_fails_naming_it(engine: Engine, tmp_path: Path, mode: str) -> None:
    limit = _vm_mib() + 512
    with contained(mode) as containment:
        state, error, text = _run(engine, tmp_path, "hog", memory_limit_mib=limit)
    assert state == "failed"
    assert f"exceeded the memory limit of {limit} MiB" in error
    if containment.cells.limits_memory:  # the cgroup's limit: the OOM killer, told apart
        assert "OOM killer" in error and "in its cgroup" in error and "OOM killer" in text
    else:  # RLIMIT_AS
        assert "MemoryError" in error


@pytest.mark.parametrize("mode", ["subreaper", "cgroup"])
def test_a_parse_past_the_memory_limit_is_an_import_error_naming_it(tmp_path: Path, mode: str) -> None:
    path = write_dag_file(tmp_path, "import windvane\nHOG = bytearray(8 << 30)\n")
    limit = _vm_mib() + 512
    with contained(mode) as containment:
        [result] = list(parse_files([path], parallelism=1, timeout=30, memory_limit_mib=limit))
    assert result.error is not None
    assert f"parsing exceeded the memory limit of {limit} MiB" in result.error and path in result.error
    if containment.cells.limits_memory:
        assert "OOM killer" in result.error
