"""B4: the scheduler alone. 10 runs of a 1,000-task DAG on an executor that finishes tries at once.

Reports task instances per second (target >= 5,000) and the scheduler loop time while 10,000 task
instances wait (target < 50 ms), on SQLite and PostgreSQL, for a flat DAG (all 1,000 tasks ready at
once) and a DAG of 10 chains of 100 (most task instances waiting on upstreams).

    python bench/b4_scheduler.py [--runs 10] [--tasks 1000] [--db sqlite,postgres]
"""

from __future__ import annotations

import argparse
import gc
import time

import pendulum
from _common import fresh_db, median, pct, register, table

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import LoopStats, SchedulerObserver
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.testing import InstantExecutor


class Noop(EmptyOperator):
    is_noop = False


class Loops(SchedulerObserver):
    def __init__(self) -> None:
        self.durations: list[float] = []
        self.waiting_durations: list[float] = []
        self.finished = 0

    def loop_finished(self, stats: LoopStats) -> None:
        self.durations.append(stats.duration)
        self.finished += stats.finished


def build(shape: str, tasks: int) -> DAG:
    start = pendulum.datetime(2024, 1, 1, tz="UTC")
    with DAG(f"b4_{shape}", start_date=start, max_active_tasks=tasks, max_active_runs=100) as dag:
        if shape == "flat":
            for i in range(tasks):
                Noop(task_id=f"t{i}")
        else:
            chains, length = 10, tasks // 10
            for c in range(chains):
                prev = None
                for i in range(length):
                    cur = Noop(task_id=f"c{c}_{i}")
                    if prev is not None:
                        prev >> cur
                    prev = cur
    return dag


def measure(kind: str, shape: str, runs: int, tasks: int) -> list[object]:
    with fresh_db(kind) as (_url, engine):
        ser = register(engine, build(shape, tasks))
        now = pendulum.now("UTC")
        with begin_write(engine) as conn:
            for i in range(runs):
                trigger_dag(conn, ser, now=now, logical_date=now.subtract(minutes=i))
        total = runs * tasks
        loops = Loops()
        executor = InstantExecutor(parallelism=2048, engine=engine)
        config = SchedulerConfig(
            parallelism=2048, max_tis_per_query=2048, poll_interval_seconds=0.5, idle_sleep_seconds=0.01
        )
        scheduler = Scheduler(engine=engine, executor=executor, config=config, observer=loops)
        gc.disable()
        t0 = time.perf_counter()
        scheduler.run(until=lambda s: loops.finished >= total, timeout=600)
        elapsed = time.perf_counter() - t0
        gc.enable()
        busy = [d * 1000 for d in loops.durations if d > 0]
        return [kind, shape, total, elapsed, total / elapsed, median(busy), pct(busy, 95), max(busy)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    rows = []
    for kind in args.db.split(","):
        for shape in ("flat", "chains"):
            rows.append(measure(kind, shape, args.runs, args.tasks))
    print(
        table(
            "B4 scheduler alone (instant executor): target >= 5,000 TI/s, loop < 50 ms",
            ["db", "shape", "TIs", "wall s", "TI/s", "loop p50 ms", "loop p95 ms", "loop max ms"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
