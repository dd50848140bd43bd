"""Issue 12: kill -9 of the scheduler (with its LocalExecutor workers in their own processes) at 20
random moments during a fan-out, restarting it each time: every task instance runs exactly once, the
runs complete, and the restart-to-next-task latency stays near one scheduler pass."""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine, select

from tests.forking.helpers import wait_until
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.worker.dag_loader import DagLoader

pytestmark = pytest.mark.slow

WIDTH = 60
RUNS = 3
KILLS = 20
#: Workers per scheduler: more than start at once, so a restart facing a backlog starts them gradually.
PARALLELISM = "6"
DAG_FILE = """
import os, time, pendulum
from windvane import DAG, PythonOperator

LEDGER = {ledger!r}

def work(ti):
    # The scheduler that started this try: the parent of the worker (this child's parent).
    with open(f"/proc/{{os.getppid()}}/stat") as stat:
        scheduler = stat.read().rsplit(")", 1)[1].split()[1]
    line = f"{{time.time():.3f}} {{scheduler}} {{ti.dag_id}} {{ti.run_id}} {{ti.task_id}} {{ti.try_number}}"
    with open(LEDGER, "a") as fh:
        fh.write(line + "\\n")
    time.sleep(0.05)

with DAG("fanout", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), max_active_runs={runs}) as dag:
    first = PythonOperator(task_id="first", python_callable=work)
    last = PythonOperator(task_id="last", python_callable=work)
    for i in range({width}):
        first >> PythonOperator(task_id=f"mid{{i:02d}}", python_callable=work) >> last
"""


def _ledger(path: Path) -> list[tuple[float, int, str]]:
    """(when, the pid of the scheduler that started it, "dag run task try") per execution."""
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 6:
            rows.append((float(parts[0]), int(parts[1]), " ".join(parts[2:])))
    return rows


def _first_start(path: Path, scheduler: int) -> float | None:
    return min((t for t, pid, _ in _ledger(path) if pid == scheduler), default=None)


def _run_states(engine: Engine) -> set[str]:
    with begin_read(engine) as conn:
        return set(conn.execute(select(dag_run.c.state)).scalars().all())


def seed_fanout(engine: Engine, tmp_path: Path, *, width: int, runs: int) -> Path:
    """Write the fan-out DAG file, store the DAG and trigger ``runs`` runs of it; the ledger the
    tasks append to."""
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    dag_path = tmp_path / "fanout.py"
    dag_path.write_text(textwrap.dedent(DAG_FILE.format(ledger=str(ledger), width=width, runs=runs)))
    ser = serialize_dag(DagLoader().get_dag(str(dag_path), "fanout"))
    now = pendulum.now("UTC")
    with begin_write(engine) as conn:
        upsert_dag(
            conn,
            dag_id="fanout",
            fileloc=str(dag_path),
            dag_hash=ser.dag_hash,
            serialized=ser.to_json(),
            last_parsed_at=now,
        )
        for i in range(runs):
            trigger_dag(conn, ser, now=now, logical_date=now.subtract(hours=i))
    return ledger


def test_kill_minus_nine_of_the_scheduler_twenty_times(engine: Engine, tmp_path: Path) -> None:
    ledger = seed_fanout(engine, tmp_path, width=WIDTH, runs=RUNS)
    total = RUNS * (WIDTH + 2)
    url = engine.url.render_as_string(hide_password=False)
    script = Path(__file__).parents[1] / "runtime" / "scheduler_process.py"
    rng = random.Random(1212)
    latencies: list[float] = []  # from the restart (the process's start) to its first task
    after_start: list[float] = []  # the same, leaving out the interpreter's start and imports
    kills = 0
    started = time.monotonic()
    while kills < KILLS and len(_ledger(ledger)) < total:
        restarted = time.time()
        proc = subprocess.Popen([sys.executable, str(script), url, str(tmp_path / "logs"), PARALLELISM])
        try:
            if kills % 2:  # every other kill lands anywhere in the start: recovery, adoption, warm-up
                time.sleep(rng.uniform(0.0, 1.0))
            elif wait_until(lambda p=proc.pid: _first_start(ledger, p) is not None, timeout=30):
                first = _first_start(ledger, proc.pid) or restarted
                latencies.append(first - restarted)
                imported = float((tmp_path / f"scheduler-{proc.pid}.started").read_text())
                after_start.append(first - imported)
                time.sleep(rng.uniform(0.0, 0.3))  # land the kill at an arbitrary point of the loop
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
    # A last, undisturbed scheduler finishes whatever is left.
    proc = subprocess.Popen([sys.executable, str(script), url, str(tmp_path / "logs"), PARALLELISM])
    try:
        assert wait_until(lambda: _run_states(engine) == {"success"}, timeout=120), _run_states(engine)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    elapsed = time.monotonic() - started
    with begin_read(engine) as conn:
        states = Counter(conn.execute(select(task_instance.c.state)).scalars().all())
    executions = Counter(key for _, _, key in _ledger(ledger))
    twice = sum(n - 1 for n in executions.values() if n > 1)
    print(
        f"scheduler kill -9: {kills} kills, {sum(executions.values())} executions of {total} task instances, "
        f"{twice} twice; restart-to-next-task latency median {statistics.median(latencies):.2f} s "
        f"max {max(latencies):.2f} s, after imports median {statistics.median(after_start):.2f} s "
        f"max {max(after_start):.2f} s; {elapsed:.1f} s in all"
    )
    assert kills >= KILLS // 2
    assert states == {"success": total}
    assert len(executions) == total, "a task instance never ran"
    assert twice == 0, [k for k, v in executions.items() if v > 1]
