"""Idle scheduler CPU against the number of DAGs (issue 15: independent of it; <= 1 % of a core).

Registers ``--dags`` DAGs (one task each, no schedule: nothing to run), starts the scheduler on an
executor that never gets work, lets it settle for ``--settle`` seconds (it loads every DAG once),
then measures the CPU the scheduler process spends over ``--seconds`` seconds of idling at the
default poll interval (0.5 s). Database server CPU is not counted.

    python bench/b_idle.py [--db sqlite,postgres] [--dags 10,1000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import time

import pendulum
from _common import fresh_db, register, table

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.testing import InstantExecutor


def idle_cpu(kind: str, dags: int, settle: float, seconds: float) -> tuple[float, int]:
    """The scheduler's CPU share of one core while idle, and how many passes it made."""
    with fresh_db(kind) as (_url, engine):
        start = pendulum.datetime(2024, 1, 1, tz="UTC")
        for i in range(dags):
            with DAG(f"idle_{i:05d}", schedule=None, start_date=start) as dag:
                EmptyOperator(task_id="t")
            register(engine, dag, fileloc=f"/dags/idle_{i:05d}.py")
        scheduler = Scheduler(
            engine=engine, executor=InstantExecutor(parallelism=32, engine=engine), config=SchedulerConfig()
        )
        marks: dict[str, float] = {}
        passes = [0]

        def until(_s: Scheduler) -> bool:
            now = time.monotonic()
            if "start" not in marks and now - marks["launched"] >= settle:
                marks["start"], marks["cpu"] = now, time.process_time()
            if "start" in marks:
                passes[0] += 1
                return now - marks["start"] >= seconds
            return False

        marks["launched"] = time.monotonic()
        scheduler.run(until=until)
        cpu = time.process_time() - marks["cpu"]
        wall = time.monotonic() - marks["start"]
        return cpu / wall * 100, passes[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--dags", default="10,1000")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    rows = []
    for kind in args.db.split(","):
        for dags in (int(n) for n in args.dags.split(",")):
            share, passes = idle_cpu(kind, dags, args.settle, args.seconds)
            rows.append([kind, dags, args.seconds, passes, share])
            print(f"{kind} {dags} DAGs: {share:.2f} % of a core", flush=True)
    print(
        table(
            "Idle scheduler CPU against the number of DAGs (target: flat, <= 1 % of a core at 10,000)",
            ["db", "DAGs", "seconds", "passes", "% of a core"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
