"""Runner micro-benchmark: no-op tasks per second through LocalExecutor alone (no scheduler).

N task instances of a no-op PythonOperator (100 tasks per DAG run) are inserted
as ``queued``, all N workloads are queued at once, and the clock runs until the
last final event arrives. Every try takes the full path: claim transaction,
fork, log file, run_try, finish transaction. "CPU ms/try" is the CPU time of
the executor, its workers and every task process divided by N: unlike
tasks/s it barely moves when other processes compete for the machine.
``--containment group,subreaper,cgroup`` compares the ``[core] process_containment`` modes
side by side, alternating them ``--repeat`` times (a cgroup per try costs a mkdir, a move and
an rmdir).

    python bench/b_runner.py [--db sqlite] [-n 1000] [--parallelism 2] [--containment auto] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import fresh_db, median, pct, table
from sqlalchemy import Engine, insert, select

from windvane.core.executors.local import LocalExecutor
from windvane.core.model.workload import TaskInstanceKey, Workload
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.tables import dag_run, task_instance

TASKS_PER_RUN = 100
DAG_SOURCE = f"""
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import PythonOperator

def noop():
    pass

with DAG("b_runner", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    for i in range({TASKS_PER_RUN}):
        PythonOperator(task_id=f"t{{i:03d}}", python_callable=noop)
"""
JOB_ID = 1


def insert_queued(engine: Engine, fileloc: str, n: int) -> list[Workload]:
    workloads: list[Workload] = []
    with begin_write(engine) as conn:
        for run_index in range((n + TASKS_PER_RUN - 1) // TASKS_PER_RUN):
            logical = datetime(2024, 1, 1, tzinfo=UTC).replace(
                day=1 + run_index % 28, month=1 + run_index // 28
            )
            run_id = f"manual__{run_index}"
            run_pk = conn.execute(
                insert(dag_run).values(
                    dag_id="b_runner",
                    run_id=run_id,
                    run_type="manual",
                    logical_date=logical,
                    data_interval_start=logical,
                    data_interval_end=logical,
                    state="running",
                    conf={},
                )
            ).inserted_primary_key
            assert run_pk is not None
            for i in range(min(TASKS_PER_RUN, n - run_index * TASKS_PER_RUN)):
                task_id = f"t{i:03d}"
                ti_pk = conn.execute(
                    insert(task_instance).values(
                        dag_run_id=run_pk[0],
                        dag_id="b_runner",
                        run_id=run_id,
                        task_id=task_id,
                        state="queued",
                        try_number=1,
                        queued_by_job_id=JOB_ID,
                    )
                ).inserted_primary_key
                assert ti_pk is not None
                workloads.append(
                    Workload(
                        key=TaskInstanceKey(ti_pk[0], run_pk[0], "b_runner", run_id, task_id),
                        try_number=1,
                        max_tries=0,
                        job_id=JOB_ID,
                        fileloc=fileloc,
                        run_type="manual",
                        logical_date=logical.isoformat(),
                        data_interval_start=logical.isoformat(),
                        data_interval_end=logical.isoformat(),
                    )
                )
    return workloads


def run_one(kind: str, n: int, parallelism: int, home: Path, containment: str = "auto") -> list[object]:
    fileloc = home / "b_runner_dag.py"
    fileloc.write_text(DAG_SOURCE)
    with fresh_db(kind) as (url, engine):
        workloads = insert_queued(engine, str(fileloc), n)
        executor = LocalExecutor(
            parallelism,
            db_url=url,
            log_folder=str(home / f"logs-{kind}-{containment}"),
            process_containment=containment,
        )
        cpu_before = _cpu_seconds()
        executor.start()
        try:
            started = time.perf_counter()
            for workload in workloads:
                executor.queue(workload)
            done = 0
            ok = 0
            while done < n:
                executor.wait(1.0)
                for event in executor.events():
                    if event.state != "running":
                        done += 1
                        ok += event.state == "success"
            elapsed = time.perf_counter() - started
        finally:
            executor.end()
        cpu_ms = (_cpu_seconds() - cpu_before) * 1000 / n
        with begin_read(engine) as conn:
            durations = [
                float(d) * 1000
                for d in conn.execute(select(task_instance.c.duration)).scalars()
                if d is not None
            ]
    return [
        kind,
        containment,
        n,
        parallelism,
        ok == n,
        elapsed,
        n / elapsed,
        median(durations),
        pct(durations, 95),
        cpu_ms,
    ]


def _cpu_seconds() -> float:
    """CPU time of this process and of every descendant reaped so far (workers reap their tries)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite", help="comma-separated: sqlite,postgres")
    parser.add_argument("-n", type=int, default=1000, help="task instances")
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--containment", default="auto", help="comma-separated process_containment modes")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, the modes alternating in each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            run_one(kind, args.n, args.parallelism, Path(tmp), mode)
            for _ in range(args.repeat)
            for kind in args.db.split(",")
            for mode in args.containment.split(",")
        ]
    print(f"load (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(
        table(
            "Runner: no-op PythonOperator tries through LocalExecutor (claim + fork + log + finish per try)",
            [
                "db",
                "containment",
                "TIs",
                "workers",
                "all ok",
                "wall s",
                "tasks/s",
                "try p50 ms",
                "try p95 ms",
                "CPU ms/try",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
