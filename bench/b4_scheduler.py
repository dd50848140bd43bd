"""B4: the scheduler alone. 10 runs of a 1,000-task DAG on an executor that finishes tries at once.

Reports task instances per second (target >= 5,000) and the scheduler loop time while 10,000 task
instances wait (target < 50 ms), on SQLite and PostgreSQL, for a flat DAG (all 1,000 tasks ready at
once) and a DAG of 10 chains of 100 (most task instances waiting on upstreams).

    python bench/b4_scheduler.py [--runs 10] [--tasks 1000] [--db sqlite,postgres]
    python bench/b4_scheduler.py --schedulers 2 [--db postgres]

With ``WV_B4_PROFILE=DIR`` each scheduler process (``--schedulers``) writes a cProfile of its loop
to ``DIR/b4_<pid>.prof``.

``--pool-slots S`` gives ``default_pool`` S slots (it has 128): the pool is a global limit, so with
the default every scheduler shares the same 128 tries in flight (see docs/scaling.md).

``--schedulers N`` (PostgreSQL): the same work driven by one scheduler alone (not coordinated), by 1 and
then by N coordinated schedulers (``SchedulerConfig.coordinated``), each a process of its own, side
by side; the runs are triggered once every scheduler has registered, the time is from the trigger's
commit (as in the single-scheduler mode, creating the runs' 10,000 task instances is left out: it
took seconds and no scheduler takes part in it) to the last task instance finished, and every
task instance is checked to have been queued exactly once (duplicates: must be 0).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pendulum
from _common import fresh_db, median, pct, register, table
from proc_cpu import CpuSampler
from sqlalchemy import Engine, func, select

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import LoopStats, SchedulerObserver
from windvane.core.store.engine import begin_read, begin_write, create_db_engine
from windvane.core.store.pools import DEFAULT_POOL, set_pool
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, job, task_instance
from windvane.testing import InstantExecutor


class Noop(EmptyOperator):
    is_noop = False


class Loops(SchedulerObserver):
    def __init__(self) -> None:
        self.durations: list[float] = []
        self.waiting_durations: list[float] = []
        self.finished = 0

        self.last_finish = 0.0

    def loop_finished(self, stats: LoopStats) -> None:
        self.durations.append(stats.duration)
        self.finished += stats.finished
        if stats.finished:
            self.last_finish = time.time()


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


def size_pool(engine: Engine, slots: int | None) -> None:
    if slots is not None:
        with begin_write(engine) as conn:
            set_pool(conn, DEFAULT_POOL, slots)


def measure(kind: str, shape: str, runs: int, tasks: int, pool_slots: int | None = None) -> list[object]:
    with fresh_db(kind) as (_url, engine):
        ser = register(engine, build(shape, tasks))
        size_pool(engine, pool_slots)
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


def _config(coordinated: bool) -> SchedulerConfig:
    return SchedulerConfig(
        parallelism=2048,
        max_tis_per_query=2048,
        poll_interval_seconds=0.5,
        idle_sleep_seconds=0.01,
        coordinated=coordinated,
    )


def _time_the_lock() -> list[float]:
    """Wrap the queueing section's first round trip (the lock, waited for, and the count): its
    durations go into the returned list. Works on trees before and after the solo lock."""
    from windvane.core.store import occupancy_sql

    spent: list[float] = []
    name = "queue_section" if hasattr(occupancy_sql, "queue_section") else "lock_and_count"
    inner = getattr(occupancy_sql, name)

    def timed(*args: object, **kwargs: object) -> object:
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t)

    setattr(occupancy_sql, name, timed)
    return spent


def worker(url: str, coordinated: bool) -> None:
    """One scheduler process: run until no run is queued or running, print what it did."""
    lock_times = _time_the_lock()
    engine = create_db_engine(url)
    loops = Loops()
    executor = InstantExecutor(parallelism=2048, engine=engine)
    scheduler = Scheduler(engine=engine, executor=executor, config=_config(coordinated), observer=loops)
    next_check = 0.0

    def idle(_s: Scheduler) -> bool:
        nonlocal next_check
        now = time.monotonic()
        if now < next_check or not loops.finished:
            return False
        next_check = now + 0.1
        with begin_read(engine) as conn:
            active = conn.execute(
                select(func.count()).where(dag_run.c.state.in_(["queued", "running"]))
            ).scalar_one()
        return active == 0

    gc.disable()
    profile_dir = os.environ.get("WV_B4_PROFILE")
    if profile_dir:  # cProfile of this scheduler's loop, one file a process (pstats format)
        import cProfile

        profiler = cProfile.Profile()
        profiler.runcall(scheduler.run, until=idle, timeout=600)
        profiler.dump_stats(str(Path(profile_dir) / f"b4_{os.getpid()}.prof"))
    else:
        scheduler.run(until=idle, timeout=600)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    busy = [d * 1000 for d in loops.durations if d > 0]
    print(
        json.dumps(
            {
                "finished": loops.finished,
                "last": loops.last_finish,
                "cpu": usage.ru_utime + usage.ru_stime,
                "busy": busy,
                "passes": len(loops.durations),
                "locked": len(lock_times),
                "lock_s": sum(lock_times),
            }
        )
    )


def measure_several(
    shape: str,
    runs: int,
    tasks: int,
    schedulers: int,
    coordinated: bool = True,
    pool_slots: int | None = None,
) -> list[object]:
    """``schedulers`` scheduler processes on one PostgreSQL database (one alone when not
    ``coordinated``: the baseline that pays for no coordination)."""
    with fresh_db("postgres") as (url, engine):
        ser = register(engine, build(shape, tasks))
        size_pool(engine, pool_slots)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", url, *([] if coordinated else ["--alone"])],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(schedulers)
        ]

        def registered() -> int:
            with begin_read(engine) as conn:
                q = select(func.count()).where(job.c.job_type == "scheduler", job.c.state == "running")
                return int(conn.execute(q).scalar_one())

        deadline = time.monotonic() + 120
        while registered() < schedulers and time.monotonic() < deadline:
            time.sleep(0.05)
        sampler = CpuSampler(url.rsplit("/", 1)[1], [p.pid for p in procs])
        sampler.start()
        now = pendulum.now("UTC")
        with begin_write(engine) as conn:
            for i in range(runs):
                trigger_dag(conn, ser, now=now, logical_date=now.subtract(minutes=i))
        t0 = time.time()  # the runs exist from here (creating their task instances is not the schedulers')
        sampler.mark()
        reports = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
        sched_cpu, pg_cpu = sampler.stop()
        with begin_read(engine) as conn:
            tries = conn.execute(
                select(task_instance.c.try_number, func.count()).group_by(task_instance.c.try_number)
            ).all()
            states = dict(
                conn.execute(
                    select(task_instance.c.state, func.count()).group_by(task_instance.c.state)
                ).all()
            )
        total = runs * tasks
        duplicates = sum(n for t, n in tries if t != 1)
        assert states == {"success": total}, states
        assert duplicates == 0, tries
        elapsed = max(r["last"] for r in reports) - t0
        busy = [b for r in reports for b in r["busy"]]
        shares = "/".join(str(r["finished"]) for r in reports)
        label = schedulers if coordinated else "1 alone"
        # Cores busy: the schedulers (the instant executor runs in them) and their PostgreSQL backends.
        cores = (sched_cpu + pg_cpu) / elapsed
        per_ti_ms = (sched_cpu + pg_cpu) / total * 1000
        passes = sum(r["passes"] for r in reports)
        locked = f"{sum(r['locked'] for r in reports)} / {sum(r['lock_s'] for r in reports):.2f}"
        return [
            "postgres", shape, label, total, elapsed, total / elapsed, shares, sched_cpu, pg_cpu,
            per_ti_ms, cores, passes, locked, median(busy), pct(busy, 95), duplicates,
        ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--schedulers", type=int, default=1, help="compare 1 and N schedulers (PostgreSQL)")
    parser.add_argument("--shapes", default="flat,chains")
    parser.add_argument("--pool-slots", type=int, help="slots of default_pool (default: its 128)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--alone", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, coordinated=not args.alone)
        return
    if args.schedulers > 1:
        load = os.getloadavg()[0]
        several = []
        for shape in args.shapes.split(","):
            slots = args.pool_slots
            several.append(measure_several(shape, args.runs, args.tasks, 1, False, slots))
            for n in (1, args.schedulers):
                several.append(measure_several(shape, args.runs, args.tasks, n, pool_slots=slots))
        print(
            table(
                f"B4, 1 vs {args.schedulers} coordinated schedulers, each a process (PostgreSQL; "
                f"default_pool {args.pool_slots or 128} slots; load average {load:.1f} at start, "
                f"{os.getloadavg()[0]:.1f} at the end)",
                [
                    "db",
                    "shape",
                    "schedulers",
                    "TIs",
                    "wall s",
                    "TI/s",
                    "TIs each",
                    "sched CPU s",
                    "PG CPU s",
                    "CPU ms/TI",
                    "cores busy",
                    "passes",
                    "locked passes / s",
                    "loop p50 ms",
                    "loop p95 ms",
                    "duplicates",
                ],
                several,
            )
        )
        return
    rows = []
    for kind in args.db.split(","):
        for shape in args.shapes.split(","):
            rows.append(measure(kind, shape, args.runs, args.tasks, args.pool_slots))
    print(
        table(
            "B4 scheduler alone (instant executor): target >= 5,000 TI/s, loop < 50 ms",
            ["db", "shape", "TIs", "wall s", "TI/s", "loop p50 ms", "loop p95 ms", "loop max ms"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
