"""Scale proof (issue 15): many runs of a wide DAG through the real runtime, with flat memory.

``--runs`` runs (100) of a fan-out DAG of ``--tasks`` no-op Python tasks (1,000: first -> 998 ->
last) are triggered up front and driven to the end by one scheduler with a LocalExecutor of
``--parallelism`` workers (2: the cores here), ``--max-active-runs`` at a time. Reported per
database:

* task instances per second and CPU ms per TI (scheduler / workers and task processes / the
  PostgreSQL backends);
* the scheduler's resident set over time (sampled every second: at 10 %, 50 % and 100 % of the
  task instances finished, and its maximum) and the largest worker resident set seen;
* database bytes per task instance (SQLite: the file and its WAL after a checkpoint; PostgreSQL:
  ``pg_database_size`` less the size of the empty migrated database);
* the scheduler loop's p50 / p95 / max duration over every pass.

100 x 1,000 takes minutes (it is not in ``run_all.py``'s default set: ``run_all.py --scale``).

    python bench/scale_proof.py [--db sqlite,postgres] [--runs 100] [--tasks 1000]
                                [--tries-per-process 100] [--max-active-runs 16] [--send-ahead on]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pendulum
from _common import fresh_db, median, pct, table
from _cpu import BackendCpu, cpu_split, rss_mib
from sqlalchemy import Engine, func, select, text

from windvane.core.authoring.serialize import serialize_dag
from windvane.core.executors.local import LocalExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import LoopStats, SchedulerObserver
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.pools import set_pool
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.worker.dag_loader import DagLoader

DAG_ID = "scale_proof"
SOURCE = """
import pendulum
from windvane import DAG, PythonOperator

def noop():
    pass

with DAG("scale_proof", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None,
         max_active_tasks=100000, max_active_runs={max_active_runs}) as dag:
    first = PythonOperator(task_id="first", python_callable=noop)
    last = PythonOperator(task_id="last", python_callable=noop)
    for i in range({mid}):
        first >> PythonOperator(task_id=f"mid{{i:04d}}", python_callable=noop, pool="wide") >> last
"""


class Probe(SchedulerObserver):
    """Loop durations and finished task instances, from the scheduler's own pass stats."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.finished = 0

    def loop_finished(self, stats: LoopStats) -> None:
        self.durations.append(stats.duration)
        self.finished += stats.finished


def unfinished_runs(engine: Engine) -> int:
    """Runs still queued or running (read only when the scheduler's book is empty)."""
    with begin_read(engine) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(dag_run).where(dag_run.c.state.in_(("queued", "running")))
            ).scalar_one()
        )


def db_bytes(engine: Engine) -> int:
    if engine.dialect.name == "sqlite":
        with contextlib.suppress(Exception), engine.connect() as conn:  # best effort: the WAL counts too
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        path = Path(str(engine.url.database))
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def run_one(
    kind: str,
    home: Path,
    runs: int,
    tasks: int,
    tries_per_process: int,
    max_active_runs: int,
    send_ahead: bool = True,
) -> list[object]:
    path = home / f"{DAG_ID}.py"
    path.write_text(textwrap.dedent(SOURCE.format(mid=tasks - 2, max_active_runs=max_active_runs)))
    with fresh_db(kind) as (url, engine):
        empty = db_bytes(engine)
        ser = serialize_dag(DagLoader().get_dag(str(path), DAG_ID))
        now = pendulum.now("UTC")
        with begin_write(engine) as conn:
            set_pool(conn, "wide", 100_000)
            upsert_dag(
                conn,
                dag_id=DAG_ID,
                fileloc=str(path),
                dag_hash=ser.dag_hash,
                serialized=ser.to_json(),
                last_parsed_at=now,
            )
            for i in range(runs):
                trigger_dag(conn, ser, logical_date=now.add(minutes=i), now=now)
        total = runs * tasks
        executor = LocalExecutor(
            2,
            db_url=url,
            log_folder=str(home / f"logs-{kind}"),
            tries_per_process=tries_per_process,
            send_ahead=send_ahead,
        )
        probe = Probe()
        config = SchedulerConfig(parallelism=2, poll_interval_seconds=0.5, idle_sleep_seconds=0.5)
        scheduler = Scheduler(engine=engine, executor=executor, config=config, observer=probe)
        rss: list[tuple[float, int, float]] = []  # (seconds, finished TIs, scheduler MiB)
        worker_rss = [0.0]
        stop = threading.Event()
        started = time.perf_counter()

        def sample() -> None:
            while not stop.wait(1.0):
                rss.append((time.perf_counter() - started, probe.finished, rss_mib(os.getpid())))
                if len(rss) % 60 == 0:  # progress on stderr, once a minute
                    at, finished, mib = rss[-1]
                    print(f"{kind}: {at:.0f} s, {finished} of {total} TIs, scheduler {mib:.0f} MiB",
                          file=sys.stderr, flush=True)  # fmt: skip
                for w in list(executor._workers):
                    worker_rss[0] = max(worker_rss[0], rss_mib(w.process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with BackendCpu(engine).sampling() as backends, cpu_split() as cpu:
            # Runs past max_active_runs wait queued: the book can be empty between two batches.
            scheduler.run(
                until=lambda s: not s.runs and s.job_id != 0 and unfinished_runs(engine) == 0,
                timeout=7200,
            )
        stop.set()
        sampler.join()
        wall = time.perf_counter() - started
        with begin_read(engine) as conn:
            done = conn.execute(
                select(func.count()).select_from(task_instance).where(task_instance.c.state == "success")
            ).scalar_one()
            ok_runs = conn.execute(
                select(func.count()).select_from(dag_run).where(dag_run.c.state == "success")
            ).scalar_one()
        size = db_bytes(engine) - empty

    def rss_at(share: float) -> float:
        for _, finished, mib in rss:
            if finished >= share * total:
                return mib
        return rss[-1][2] if rss else 0.0

    loops_ms = [d * 1000 for d in probe.durations]
    return [
        kind,
        tries_per_process,
        f"{runs}x{tasks}",
        done == total and ok_runs == runs,
        wall,
        done / wall,
        (cpu["self"] + cpu["children"] + backends.seconds) / done * 1000,
        "/".join(f"{v / done * 1000:.2f}" for v in (cpu["self"], cpu["children"], backends.seconds)),
        f"{rss_at(0.1):.0f}/{rss_at(0.5):.0f}/{rss_at(1.0):.0f}",
        max((m for _, _, m in rss), default=0.0),
        worker_rss[0],
        size / done,
        median(loops_ms),
        pct(loops_ms, 95),
        max(loops_ms, default=0.0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--tries-per-process", type=int, default=100)
    parser.add_argument("--max-active-runs", type=int, default=16)
    parser.add_argument("--send-ahead", choices=("on", "off"), default="on")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            rows.append(
                run_one(
                    kind,
                    Path(tmp),
                    args.runs,
                    args.tasks,
                    args.tries_per_process,
                    args.max_active_runs,
                    args.send_ahead == "on",
                )
            )
            print(rows[-1], flush=True)
    print(
        table(
            f"Scale proof: {args.runs} runs x {args.tasks} no-op tasks (fan-out), LocalExecutor "
            f"parallelism 2, max_active_runs {args.max_active_runs}",
            [
                "db",
                "tries/proc",
                "runs x TIs",
                "all ok",
                "wall s",
                "TI/s",
                "CPU ms/TI",
                "sched/work/db",
                "sched RSS MiB 10/50/100 %",
                "sched RSS max",
                "worker RSS max",
                "DB bytes/TI",
                "loop p50 ms",
                "loop p95 ms",
                "loop max ms",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
