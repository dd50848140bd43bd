"""Issue 12, defect 7: no process of a finished try or parse survives it.

Real processes: each test starts processes marked by a unique word in their argv (or by a pid
file), lets the try / parse end, and checks within a deadline that none of them still runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.faults.containment import marked
from tests.forking.helpers import gone, wait_until
from windvane.core.forking.supervise import run_forked
from windvane.core.forking.sweep import session_members, sweep_session, sweep_sessions
from windvane.core.processor.pool import parse_files
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.runner import run_workload
from windvane.testing import queued_try, ti_row, write_dag_file

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc")


def _sleeper_argv(marker: str) -> list[str]:
    return [sys.executable, "-c", "import time; time.sleep(120)", marker]


#: A Python script that ignores SIGTERM and sleeps.
IGNORE_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"


@pytest.fixture
def marker() -> str:
    return f"wv-orphan-{uuid.uuid4().hex}"


def test_a_child_left_in_its_own_group_does_not_survive_a_successful_try(marker: str) -> None:
    def body() -> bytes:
        # A process group of its own (as subprocess' process_group=0 does), never waited for.
        subprocess.Popen(_sleeper_argv(marker), process_group=0, stdin=subprocess.DEVNULL)
        return b"done"

    end = run_forked(body, kill_grace_seconds=0.5)
    assert end.payload == b"done"
    assert wait_until(lambda: not marked(marker), timeout=5), marked(marker)


def test_a_grandchild_ignoring_sigterm_does_not_survive_the_deadline(marker: str) -> None:
    script = f"trap '' TERM; {sys.executable} -c '{IGNORE_TERM}' {marker} & wait"

    def body() -> bytes:
        subprocess.Popen(["bash", "-c", script], process_group=0, stdin=subprocess.DEVNULL)
        import time

        time.sleep(120)
        return b"never"

    end = run_forked(body, deadline_seconds=0.3, kill_grace_seconds=0.3)
    assert end.timed_out
    assert wait_until(lambda: not marked(marker), timeout=5), marked(marker)


def test_a_fork_at_dag_import_does_not_survive_the_parse(tmp_path: Path) -> None:
    pid_file = tmp_path / "forked.pid"
    source = f"""
import os, time
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
child = os.fork()
if child == 0:
    time.sleep(120)
    os._exit(0)
# the parent writes the pid: the sweep may kill the child before it could write anything itself
with open({str(pid_file)!r}, "w") as f:
    f.write(str(child))
with DAG("forks", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    pass
"""
    path = write_dag_file(tmp_path, source)
    results = list(parse_files([path], parallelism=1, timeout=30))
    assert results[0].error is None
    pid = int(pid_file.read_text())  # written before the parse reported
    assert wait_until(lambda: gone(pid), timeout=5)


def test_forks_at_import_of_several_files_parsed_together_do_not_survive_the_parse(tmp_path: Path) -> None:
    """The processor sweeps the sessions of its parse children in batches (one look at /proc for
    many files): every file's leftover is still ended, the clean files' sessions are left alone."""
    paths, pid_files = [], []
    for i in range(4):
        pid_file = tmp_path / f"forked_{i}.pid"
        fork = f"""
child = os.fork()
if child == 0:
    time.sleep(120)
    os._exit(0)
with open({str(pid_file)!r}, "w") as f:
    f.write(str(child))
"""
        source = f"""
import os, time
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
{fork if i % 2 == 0 else ""}
with DAG("forks_{i}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    pass
"""
        folder = tmp_path / f"f{i}"
        folder.mkdir()
        paths.append(write_dag_file(folder, source))
        if i % 2 == 0:
            pid_files.append(pid_file)
    results = list(parse_files(paths, parallelism=2, timeout=30))
    assert [r.error for r in results] == [None] * 4
    for pid_file in pid_files:
        pid = int(pid_file.read_text())
        assert wait_until(lambda pid=pid: gone(pid), timeout=5)


def test_one_sweep_of_several_sessions_ends_the_members_of_each(marker: str) -> None:
    leaders = [
        subprocess.Popen(
            [sys.executable, "-c", f"import subprocess, time; subprocess.Popen({_sleeper_argv(marker)!r}); "
             "time.sleep(120)"],
            start_new_session=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    try:
        assert wait_until(lambda: len(marked(marker)) == 4, timeout=10)  # leaders (argv) + sleepers
        found = sweep_sessions({p.pid: 0 for p in leaders} | {os.getpid() + 10_000_000: 0}, 0.0)
        assert found == {p.pid: 1 for p in leaders}  # each one's sleeper (the leader is the child)
        assert wait_until(lambda: not marked(marker), timeout=5)
    finally:
        for p in leaders:
            p.kill()
            p.wait()


def test_sweep_of_an_empty_session_finds_nothing() -> None:
    assert session_members(os.getpid() + 10_000_000) == []
    assert sweep_session(os.getpid() + 10_000_000, 1.0) == 0


BASH_DAG = """
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.bash import BashOperator

IGNORE_TERM = "{ignore_term}"
STUBBORN = "trap '' TERM; {python} -c '" + IGNORE_TERM + "' {marker} & wait"
LEFT_BEHIND = "( {python} -c 'import time; time.sleep(120)' {marker} >/dev/null 2>&1 & ) ; echo started"
with DAG("orphans", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    BashOperator(task_id="stubborn", bash_command=STUBBORN, execution_timeout=0.3)
    BashOperator(task_id="left_behind", bash_command=LEFT_BEHIND)
"""


@pytest.mark.parametrize("task_id", ["stubborn", "left_behind"])
def test_bash_processes_do_not_survive_their_try(
    engine: Engine, tmp_path: Path, marker: str, task_id: str
) -> None:
    dag_file = write_dag_file(
        tmp_path, BASH_DAG.format(python=sys.executable, marker=marker, ignore_term=IGNORE_TERM)
    )
    wl = queued_try(engine, dag_file, "orphans", task_id)
    event = run_workload(
        wl,
        engine=engine,
        loader=DagLoader(),
        log_folder=str(tmp_path / "logs"),
        hostname="host-1",
        timeout_grace_seconds=0.2,
        kill_grace_seconds=0.3,
    )
    expected = "failed" if task_id == "stubborn" else "success"
    assert event.state == expected, ti_row(engine, wl.ti_id)["error"]
    assert wait_until(lambda: not marked(marker), timeout=5), marked(marker)
