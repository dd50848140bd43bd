"""Scale proof (issue 15): a folder of 10,000 DAG files, the DAG processor and the scheduler together.

Generates ``--files`` DAG files (B3's: ``--tasks`` tasks each, schedules ``@daily``, ``@hourly``,
``*/15 * * * *`` and ``0 3 * * 1``, ``catchup=False``, so every DAG gets one run at once and the
quarter-hourly ones another every 15 minutes), then runs for ``--seconds``:

* the DAG processor in a process of its own (``DagProcessor.run``, ``--processes`` children,
  re-scanning every 2 s), and
* the scheduler in this process on the instant executor (a test double that finishes each try as
  it is queued and writes its rows like a worker would: the proof is about the scheduler and the
  processor, not about running 100,000 no-op tasks; ``--executor local`` runs them for real).

Every ``--sample`` seconds it records the resident memory (RSS, from ``/proc``) of both processes,
the database's size, the DAGs stored and the task instances finished. It prints that timeline,
then the scheduler's loop time (p50 / p95 / max over every pass, and over the last third alone),
and a verdict on flat memory over the steady part of the run, once every file is stored (before
that the scheduler holds more DAGs with every sample, ~18 KB each): each process's RSS over the
last third of the steady samples may exceed its RSS at the end of the first third by at most
``--rss-slack`` (10 % by default). A run too short to reach a steady part says so and fails.

Not part of the test suite (it runs for minutes):

    python bench/scale_dag_files.py [--files 10000] [--tasks 10] [--seconds 300] [--db sqlite|postgres]
        [--executor instant|local] [--processes 2] [--sample 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import b3_parse
from _common import fresh_db, pct, table
from sqlalchemy import Engine, func, select, text

from windvane.core.executors.base import Executor
from windvane.core.executors.local import LocalExecutor
from windvane.core.model.states import TaskInstanceState
from windvane.core.processor import DagProcessor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import LoopStats, SchedulerObserver
from windvane.core.store.engine import begin_read, create_db_engine
from windvane.core.store.tables import dag, task_instance
from windvane.testing import InstantExecutor


class Loops(SchedulerObserver):
    """Every pass's duration, with when it ended."""

    def __init__(self) -> None:
        self.passes: list[tuple[float, float]] = []
        self.runs_created = 0

    def loop_finished(self, stats: LoopStats) -> None:
        self.passes.append((time.monotonic(), stats.duration))
        self.runs_created += stats.runs_created


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def db_size_mib(engine: Engine, url: str) -> float:
    if engine.dialect.name == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        files = [path, path.with_name(path.name + "-wal")]
        return sum(p.stat().st_size for p in files if p.exists()) / 2**20
    with begin_read(engine) as conn:
        return float(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()) / 2**20


def counts(engine: Engine) -> tuple[int, int]:
    """(DAGs stored, task instances finished)."""
    with begin_read(engine) as conn:
        dags = conn.execute(select(func.count()).select_from(dag)).scalar_one()
        done = conn.execute(
            select(func.count())
            .select_from(task_instance)
            .where(task_instance.c.state == TaskInstanceState.SUCCESS.value)
        ).scalar_one()
    return int(dags), int(done)


def run_processor(folder: str, url: str, processes: int, stop: Any) -> None:
    """The DAG processor's process (forked): parse the folder every 2 s until ``stop`` is set."""
    engine = create_db_engine(url)
    DagProcessor(folder, engine, parsing_processes=processes, parse_timeout=60.0).run(stop, 2.0)


def flat(samples: list[float], slack: float) -> tuple[bool, float, float]:
    """(flat?, RSS at the end of the first third, highest RSS of the last third)."""
    third = max(1, len(samples) // 3)
    base, tail = samples[third - 1], max(samples[-third:])
    return tail <= base * (1 + slack), base, tail


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--executor", choices=("instant", "local"), default="instant")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--sample", type=float, default=5.0)
    parser.add_argument("--rss-slack", type=float, default=0.10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wv_scale_") as tmp, fresh_db(args.db) as (url, engine):
        folder = Path(tmp) / "dags"
        folder.mkdir()
        started = time.monotonic()
        b3_parse.generate(folder, args.files, args.tasks)
        print(f"generated {args.files} DAG files x {args.tasks} tasks in {time.monotonic() - started:.1f} s")
        ctx = multiprocessing.get_context("fork")
        stop_processor = ctx.Event()
        processor = ctx.Process(
            target=run_processor, args=(str(folder), url, args.processes, stop_processor), daemon=True
        )
        processor.start()
        assert processor.pid is not None
        loops = Loops()
        executor: Executor = (
            InstantExecutor(parallelism=512, engine=engine)
            if args.executor == "instant"
            else LocalExecutor(2, db_url=url, log_folder=str(Path(tmp) / "logs"))
        )
        config = SchedulerConfig(parallelism=512 if args.executor == "instant" else 2)
        scheduler = Scheduler(engine=engine, executor=executor, config=config, observer=loops)
        thread = threading.Thread(target=scheduler.run, kwargs={"timeout": args.seconds}, daemon=True)
        t0 = time.monotonic()
        thread.start()
        rows: list[list[object]] = []
        sched_rss: list[float] = []
        proc_rss: list[float] = []
        steady_from: int | None = None  # the first sample with every file stored
        while thread.is_alive():
            thread.join(args.sample)
            at = time.monotonic() - t0
            s_rss, p_rss = rss_mib(os.getpid()), rss_mib(processor.pid)
            sched_rss.append(s_rss)
            proc_rss.append(p_rss)
            stored, done = counts(engine)
            if steady_from is None and stored >= args.files:
                steady_from = len(sched_rss) - 1
            recent = [d for end, d in loops.passes if end >= t0 + at - args.sample]
            rows.append(
                [round(at), s_rss, p_rss, db_size_mib(engine, url), stored, done, len(recent),
                 pct(recent, 95) * 1000 if recent else 0.0]
            )  # fmt: skip
            print("  ".join(str(c) for c in rows[-1]), flush=True)
        stop_processor.set()
        processor.join(30)
        if processor.is_alive():
            processor.kill()
    print()
    print(
        table(
            f"Scale proof: {args.files} DAG files x {args.tasks} tasks, {args.db}, {args.executor} executor,"
            f" {args.seconds:g} s (load {os.getloadavg()[0]:.1f})",
            ["t s", "scheduler RSS MiB", "processor RSS MiB", "DB MiB", "DAGs", "TIs done", "passes",
             "loop p95 ms"],
            rows,
        )
    )  # fmt: skip
    durations = [d for _, d in loops.passes]
    tail_start = t0 + args.seconds * 2 / 3
    tail = [d for end, d in loops.passes if end >= tail_start]
    print(
        f"\nscheduler loop over {len(durations)} passes: p50 {pct(durations, 50) * 1000:.1f} ms, "
        f"p95 {pct(durations, 95) * 1000:.1f} ms, max {max(durations, default=0) * 1000:.1f} ms; "
        f"last third: p95 {pct(tail, 95) * 1000:.1f} ms; runs created {loops.runs_created}"
    )
    if steady_from is None or len(sched_rss) - steady_from < 3:
        print("not steady: the run ended before every file was stored for 3 samples; run longer")
        return 1
    ok = True
    for name, samples in (("scheduler", sched_rss[steady_from:]), ("processor", proc_rss[steady_from:])):
        good, base, top = flat(samples, args.rss_slack)
        ok = ok and good
        print(
            f"{name} RSS: {base:.0f} MiB after the first third, at most {top:.0f} MiB in the last third: "
            f"{'flat' if good else 'GROWING'} (slack {args.rss_slack:.0%})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
