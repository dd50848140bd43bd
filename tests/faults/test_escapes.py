"""Issue 12, defect 7, last item: a descendant that leaves the session (``setsid``, a daemon's
double fork) does not survive its try or parse either.

Each test runs under the ``subreaper`` and the ``cgroup`` containment (the latter skipped with
its reason only where no cgroup is writable; CI has one). Processes are marked by a unique word
in their argv; each test checks, within a deadline, that none still runs. "After a SIGKILL"
tests run the try or parse inside a forked stand-in for a worker / DAG processor that adopts
orphans (as the real ones do) and look for survivors from inside it, before its own end sweeps.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.faults.containment import cells_left, cgroup_or_skip, contained, marked
from tests.forking.helpers import gone, wait_until
from windvane.core.executors.local import LocalExecutor
from windvane.core.forking import containment as containment_module
from windvane.core.forking.containment import detect
from windvane.core.forking.handle import reap_exited
from windvane.core.forking.subreaper import become_subreaper
from windvane.core.forking.supervise import run_forked
from windvane.core.processor.pool import parse_files
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.runner import run_workload
from windvane.testing import collect_events, queued_try, ti_row, write_dag_file

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreapers and cgroups are Linux's"),
    pytest.mark.parametrize("mode", ["subreaper", "cgroup"]),
]

PY = sys.executable
SLEEPER = "import time; time.sleep(120)"
#: Leaves the session and the parent: fork, setsid, fork again, the grandchild sleeps.
DAEMON = (
    "import os, sys, time\n"
    "if os.fork(): os._exit(0)\n"
    "os.setsid()\n"
    "if os.fork(): os._exit(0)\n"
    "time.sleep(120)\n"
)

BASH_DAG = """
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.bash import BashOperator

SETSID = "setsid {py} -c '{sleeper}' {marker} </dev/null >/dev/null 2>&1 &"
DAEMON = "{py} -c \\"$(printf '%b' '{daemon}')\\" {marker} </dev/null >/dev/null 2>&1"
with DAG("escapes", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    BashOperator(task_id="setsid_ok", bash_command=SETSID + " echo started")
    BashOperator(task_id="daemon_ok", bash_command=DAEMON + "; echo started")
    BashOperator(
        task_id="setsid_timeout", bash_command="trap '' TERM; " + SETSID + " sleep 120", execution_timeout=0.5
    )
    BashOperator(task_id="daemon_timeout", bash_command=DAEMON + "; sleep 120", execution_timeout=0.5)
    # The try's own process SIGKILLed: bash's parent is the try child.
    BashOperator(task_id="setsid_killed", bash_command=SETSID + " sleep 0.3; kill -9 $PPID; sleep 120")
    BashOperator(task_id="daemon_killed", bash_command=DAEMON + "; kill -9 $PPID; sleep 120")
"""

EXPECTED = {
    "setsid_ok": "success",
    "daemon_ok": "success",
    "setsid_timeout": "failed",
    "daemon_timeout": "failed",
    "setsid_killed": "failed",
    "daemon_killed": "failed",
}


@pytest.fixture
def marker() -> str:
    return f"wv-escape-{uuid.uuid4().hex}"


def _dag_file(tmp_path: Path, marker: str) -> str:
    daemon = DAEMON.replace("\n", "\\\\n")
    return write_dag_file(tmp_path, BASH_DAG.format(py=PY, sleeper=SLEEPER, marker=marker, daemon=daemon))


def _run(engine: Engine, tmp_path: Path, dag_file: str, task_id: str) -> tuple[str | None, str]:
    wl = queued_try(engine, dag_file, "escapes", task_id)
    event = run_workload(
        wl,
        engine=engine,
        loader=DagLoader(),
        log_folder=str(tmp_path / "logs"),
        hostname="host-1",
        timeout_grace_seconds=0.2,
        kill_grace_seconds=0.3,
    )
    return event.state, ti_row(engine, wl.ti_id)["error"] or ""


def _as_adopting_supervisor(body: object) -> list[object]:
    """Run ``body`` in a forked process that adopts orphans (a worker's stand-in); returns what
    it returned (JSON)."""
    assert callable(body)

    mode = containment_module.current().mode

    def adopting() -> bytes:
        assert become_subreaper()
        containment_module._installed = detect(mode)  # cells of its own, as a worker's
        result = json.dumps(body()).encode()
        reap_exited()  # as a worker does when it stops: the last try's cell is removed
        return result

    end = run_forked(adopting, kill_grace_seconds=0.5)
    assert end.payload is not None, end.status
    result: list[object] = json.loads(end.payload)
    return result


@pytest.mark.parametrize("task_id", ["setsid_ok", "daemon_ok", "setsid_timeout", "daemon_timeout"])
def test_a_descendant_in_a_session_of_its_own_does_not_survive_its_try(
    engine: Engine, tmp_path: Path, marker: str, task_id: str, mode: str
) -> None:
    dag_file = _dag_file(tmp_path, marker)
    with contained(mode) as containment:
        state, error = _run(engine, tmp_path, dag_file, task_id)
        assert state == EXPECTED[task_id], error
        assert wait_until(lambda: not marked(marker), timeout=5), marked(marker)
        reap_exited()  # a child that reported is reaped (and its cell removed) before the next fork
        assert cells_left(containment) == []


@pytest.mark.parametrize("task_id", ["setsid_killed", "daemon_killed"])
def test_nothing_survives_a_try_whose_process_was_sigkilled(
    engine: Engine, tmp_path: Path, marker: str, task_id: str, mode: str
) -> None:
    dag_file = _dag_file(tmp_path, marker)
    with contained(mode):

        def worker() -> list[object]:
            # The worker's own child, in the worker's session: not an orphan, never touched.
            own = subprocess.Popen([PY, "-c", SLEEPER, f"{marker}-own"], stdin=subprocess.DEVNULL)
            first = _run(engine, tmp_path, dag_file, task_id)
            wait_until(lambda: marked(marker) == [own.pid], timeout=5)
            survivors = [pid for pid in marked(marker) if pid != own.pid]
            # A second try in the same worker: the bookkeeping of its children still holds.
            second = _run(engine, tmp_path, dag_file, "setsid_ok")
            own_alive = own.poll() is None
            own.kill()
            own.wait()
            return [first[0], first[1], survivors, second[0], own_alive]

        state, error, survivors, second, own_alive = _as_adopting_supervisor(worker)
    assert state == "failed", error
    assert "SIGKILL" in str(error)
    assert survivors == []
    assert second == "success"
    assert own_alive
    assert wait_until(lambda: not marked(marker), timeout=5), marked(marker)


PARSE_DAG = """
import os, time
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG

read, write = os.pipe()
if os.fork() == 0:  # a daemon: a session of its own, its parent gone
    os.setsid()
    if os.fork():
        os._exit(0)
    os.write(write, str(os.getpid()).encode())
    time.sleep(120)
    os._exit(0)
daemon = int(os.read(read, 32))
with open({pid_file!r}, "w") as f:
    f.write(str(daemon))
with DAG("forks", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    pass
{tail}
"""


def test_a_daemon_forked_at_dag_import_does_not_survive_the_parse(tmp_path: Path, mode: str) -> None:
    pid_file = tmp_path / "daemon.pid"
    path = write_dag_file(tmp_path, PARSE_DAG.format(pid_file=str(pid_file), tail=""))
    with contained(mode) as containment:
        [result] = list(parse_files([path], parallelism=1, timeout=30))
        assert result.error is None, result.error
        daemon = int(pid_file.read_text())  # written before the parse reported
        assert wait_until(lambda: gone(daemon), timeout=5)
        reap_exited()  # a child that reported is reaped (and its cell removed) before the next fork
        assert cells_left(containment) == []


def test_a_daemon_of_a_parse_killed_at_its_timeout_does_not_survive(tmp_path: Path, mode: str) -> None:
    pid_file = tmp_path / "daemon.pid"
    path = write_dag_file(tmp_path, PARSE_DAG.format(pid_file=str(pid_file), tail="time.sleep(120)"))
    with contained(mode):

        def processor() -> list[object]:
            [result] = list(parse_files([path], parallelism=1, timeout=1.0))
            daemon = int(pid_file.read_text())
            return [result.timed_out, wait_until(lambda: gone(daemon), timeout=5), daemon]

        timed_out, daemon_gone, daemon = _as_adopting_supervisor(processor)
    assert timed_out
    assert daemon_gone
    assert isinstance(daemon, int) and gone(daemon)


def test_a_local_worker_ends_what_its_sigkilled_try_left(
    engine: Engine, tmp_path: Path, marker: str, mode: str
) -> None:
    """The real thing: a LocalExecutor worker (a fresh interpreter that adopts orphans)."""
    if mode == "cgroup":
        cgroup_or_skip()
    dag_file = _dag_file(tmp_path, marker)
    url = engine.url.render_as_string(hide_password=False)
    executor = LocalExecutor(
        1, db_url=url, log_folder=str(tmp_path / "logs"), kill_grace_seconds=0.3, process_containment=mode
    )
    executor.start()
    try:
        killed = queued_try(engine, dag_file, "escapes", "daemon_killed")
        executor.queue(killed)
        [first], _ = collect_events(executor, 1)
        assert first.state == "failed", ti_row(engine, killed.ti_id)["error"]
        assert wait_until(lambda: not marked(marker), timeout=5), marked(marker)
        after = queued_try(engine, dag_file, "escapes", "setsid_ok")
        executor.queue(after)
        [second], _ = collect_events(executor, 1)
        assert second.state == "success", ti_row(engine, after.ti_id)["error"]
        assert wait_until(lambda: not marked(marker), timeout=5), marked(marker)
    finally:
        executor.end(graceful=False)
