"""B2 with several schedulers: the fan-out driven by 1 and by N coordinated schedulers on PostgreSQL.

Each scheduler is a process of its own with its LocalExecutor (parallelism 2 each, as B2), started and
registered before the runs are triggered. A run is driven by one scheduler at a time (run ownership),
so the work is ``--runs`` runs of fan-out 1 -> W -> 1 with W = ``--fanout`` / ``--runs`` (B2 is one
run of 1 -> 1000 -> 1: two schedulers could not share it). Makespan is from the first start to the
last end (database timestamps); every task instance must have succeeded with try number 1
(duplicates: queued or run twice, must be 0).

    python bench/b2_several.py [--schedulers 2] [--runs 4] [--fanout 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pendulum
from _common import fresh_db, table
from sqlalchemy import func, select

from windvane.core.authoring.serialize import serialize_dag
from windvane.core.executors.local import LocalExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write, create_db_engine
from windvane.core.store.pools import set_pool
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, job, task_instance
from windvane.core.worker.dag_loader import DagLoader

FANOUT = """
import pendulum
from windvane import DAG, PythonOperator

def noop():
    pass

with DAG("b2_fanout", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), max_active_tasks=2048,
         max_active_runs=64) as dag:
    first = PythonOperator(task_id="first", python_callable=noop)
    last = PythonOperator(task_id="last", python_callable=noop)
    for i in range({n}):
        first >> PythonOperator(task_id=f"mid{{i:04d}}", python_callable=noop, pool="wide") >> last
"""


def worker(url: str, logs: str) -> None:
    """One coordinated scheduler with its LocalExecutor: run until no run is queued or running."""
    engine = create_db_engine(url)
    executor = LocalExecutor(2, db_url=url, log_folder=logs)
    config = SchedulerConfig(
        parallelism=2, poll_interval_seconds=0.5, idle_sleep_seconds=0.5, coordinated=True
    )
    scheduler = Scheduler(engine=engine, executor=executor, config=config)
    seen = [False]
    next_check = [0.0]

    def done(_s: Scheduler) -> bool:
        if time.monotonic() < next_check[0]:
            return False
        next_check[0] = time.monotonic() + 0.2
        with begin_read(engine) as conn:
            runs = conn.execute(select(func.count()).select_from(dag_run)).scalar_one()
            active = conn.execute(
                select(func.count()).where(dag_run.c.state.in_(["queued", "running"]))
            ).scalar_one()
        seen[0] = seen[0] or runs > 0
        return seen[0] and active == 0

    scheduler.run(until=done, timeout=900)


def measure(schedulers: int, runs: int, width: int, home: Path) -> list[object]:
    path = home / "b2_fanout.py"
    path.write_text(textwrap.dedent(FANOUT.format(n=width)))
    ser = serialize_dag(DagLoader().get_dag(str(path), "b2_fanout"))
    with fresh_db("postgres") as (url, engine):
        with begin_write(engine) as conn:
            set_pool(conn, "wide", 4096)
            upsert_dag(
                conn,
                dag_id="b2_fanout",
                fileloc=str(path),
                dag_hash=ser.dag_hash,
                serialized=ser.to_json(),
                last_parsed_at=pendulum.now("UTC"),
            )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
        command = [sys.executable, __file__, "--worker", url, str(home / "logs")]
        procs = [subprocess.Popen(command, env=env) for _ in range(schedulers)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with begin_read(engine) as conn:
                q = select(func.count()).where(job.c.job_type == "scheduler", job.c.state == "running")
                if conn.execute(q).scalar_one() >= schedulers:
                    break
            time.sleep(0.05)
        load = os.getloadavg()[0]
        now = pendulum.now("UTC")
        with begin_write(engine) as conn:
            for i in range(runs):
                trigger_dag(conn, ser, now=now, logical_date=now.subtract(minutes=i))
        for proc in procs:
            proc.wait(timeout=900)
        with begin_read(engine) as conn:
            first, last = conn.execute(
                select(func.min(task_instance.c.start_date), func.max(task_instance.c.end_date))
            ).one()
            states = dict(
                conn.execute(
                    select(task_instance.c.state, func.count()).group_by(task_instance.c.state)
                ).all()
            )
            duplicates = conn.execute(
                select(func.count()).where(task_instance.c.try_number != 1)
            ).scalar_one()
            owners = conn.execute(
                select(func.count(func.distinct(dag_run.c.scheduled_by_job_id)))
            ).scalar_one()
    total = runs * (width + 2)
    assert states == {"success": total}, states
    assert duplicates == 0, duplicates
    makespan = (last - first).total_seconds()
    return [
        "postgres",
        schedulers,
        runs,
        total,
        owners,
        makespan,
        total / makespan,
        duplicates,
        f"{load:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    width = max(1, args.fanout // args.runs)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, args.schedulers):
            rows.append(measure(n, args.runs, width, Path(tmp)))
    ratio = rows[1][6] / rows[0][6]  # type: ignore[operator]
    print(
        table(
            f"B2 on 1 vs {args.schedulers} coordinated schedulers (PostgreSQL, LocalExecutor parallelism 2 "
            f"each, {args.runs} runs of 1 -> {width} -> 1): {ratio:.2f}x",
            ["db", "schedulers", "runs", "TIs", "drivers", "makespan s", "TI/s", "duplicates", "load"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
