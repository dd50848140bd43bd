"""Idle scheduler CPU against the number of DAGs (issue 15: independent of it; <= 1 % of a core).

Registers ``--dags`` DAGs (one task each, ``@daily``, next run due tomorrow: nothing to run),
starts the scheduler on the LocalExecutor (the default; ``--executor instant`` for the test double,
which wakes the loop every 50 ms), lets it settle for ``--settle`` seconds (it loads every DAG
once), then measures the CPU the scheduler process spends over ``--seconds`` seconds of idling at
the default poll interval (0.5 s) and idle sleep (1 s), and the CPU of its idle worker processes.
Database server CPU is not counted.

    python bench/b_idle.py [--db sqlite,postgres] [--dags 10,1000] [--seconds 20] [--profile]
        [--executor local|instant]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time

import pendulum
from _common import fresh_db, register_many, table

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.executors.base import Executor
from windvane.core.executors.local import LocalExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import dag as dag_t
from windvane.testing import InstantExecutor


def children_cpu() -> float:
    """CPU seconds of this process's live children (from /proc; 0 where there is none)."""
    me, total = str(os.getpid()), 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:  # ppid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def idle_cpu(
    kind: str,
    dags: int,
    settle: float,
    seconds: float,
    profile: cProfile.Profile | None = None,
    executor_kind: str = "local",
) -> tuple[float, float, int]:
    """The scheduler's and its workers' CPU share of one core while idle, and how many passes it made."""
    with fresh_db(kind) as (url, engine), tempfile.TemporaryDirectory() as logs:
        start = pendulum.datetime(2024, 1, 1, tz="UTC")
        batch: list[tuple[DAG, str | None]] = []
        for i in range(dags):
            with DAG(f"idle_{i:05d}", schedule="@daily", start_date=start) as dag:
                EmptyOperator(task_id="t")
            batch.append((dag, f"/dags/idle_{i:05d}.py"))
            if len(batch) == 500 or i == dags - 1:
                register_many(engine, batch)
                batch = []
        tomorrow = pendulum.now("UTC").add(days=1)
        with begin_write(engine) as conn:  # every DAG has a next run, none is due
            conn.execute(
                dag_t.update().values(
                    next_dagrun_logical_date=tomorrow,
                    next_dagrun_data_interval_start=tomorrow,
                    next_dagrun_data_interval_end=tomorrow,
                    next_dagrun_create_after=tomorrow,
                )
            )
        executor: Executor = (
            LocalExecutor(2, db_url=url, log_folder=logs)
            if executor_kind == "local"
            else InstantExecutor(parallelism=32, engine=engine)
        )
        scheduler = Scheduler(engine=engine, executor=executor, config=SchedulerConfig())
        marks: dict[str, float] = {}
        passes = [0]

        def until(_s: Scheduler) -> bool:
            now = time.monotonic()
            if "start" not in marks and now - marks["launched"] >= settle:
                marks["start"], marks["cpu"] = now, time.process_time()
                marks["children"] = children_cpu()
                if profile is not None:
                    profile.enable()
            if "start" in marks:
                passes[0] += 1
                if now - marks["start"] >= seconds:
                    marks["children"] = children_cpu() - marks["children"]
                    marks["cpu"] = time.process_time() - marks["cpu"]
                    marks["wall"] = now - marks["start"]
                    return True
            return False

        marks["launched"] = time.monotonic()
        scheduler.run(until=until)
        if profile is not None:
            profile.disable()
        wall = marks["wall"]
        return marks["cpu"] / wall * 100, marks["children"] / wall * 100, passes[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--dags", default="10,1000")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--profile", action="store_true", help="print where the idle CPU goes")
    parser.add_argument("--executor", choices=("local", "instant"), default="local")
    args = parser.parse_args()
    rows = []
    for kind in args.db.split(","):
        for dags in (int(n) for n in args.dags.split(",")):
            profile = cProfile.Profile() if args.profile else None
            share, workers, passes = idle_cpu(kind, dags, args.settle, args.seconds, profile, args.executor)
            if profile is not None:
                pstats.Stats(profile).sort_stats("tottime").print_stats(15)
            rows.append([kind, args.executor, dags, args.seconds, passes, share, workers])
            print(f"{kind} {dags} DAGs: {share:.2f} % of a core", flush=True)
    print(
        table(
            "Idle scheduler CPU against the number of DAGs (target: flat, <= 1 % of a core at 10,000)",
            ["db", "executor", "DAGs", "seconds", "passes", "scheduler % of a core", "workers %"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
