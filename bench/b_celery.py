"""B1 and B2 on the Celery executor (Redis broker and results) beside the local executor.

The same DAGs as bench/b12_local.py, driven by a real scheduler: B1 a chain of
100 no-op tasks (gap between a task's end and the next one's start, from the DB
timestamps), B2 a fan-out 1 -> 1000 -> 1 (task instances per second over the
makespan). Celery: one ``windvane celery worker`` process (separate, started
with the CLI) with ``--concurrency`` equal to the parallelism (or ``--concurrency``),
on a redis-server of the bench's own (a free port, ``appendonly yes``,
``appendfsync everysec``: a broker that persists), broker and results in
databases 13 and 14, so that its CPU is the run's alone; ``--redis URL`` uses
another (the machine's: its CPU is then not counted). CPU ms/TI: the CPU time of
every process of the run per task instance, the number to compare on a busy
machine, and its parts: the scheduler (this process), the workers (local
workers, or the Celery worker with its pool processes and tries, its start-up
included, ~1-2 s of CPU) and Redis.
Targets (Celery + Redis): B1 gap p50 <= 50 ms, B2 >= 150 TI/s.

    python bench/b_celery.py [--db sqlite] [--parallelism 2] [--chain 100] [--fanout 1000] [--concurrency N]

``WINDVANE_BENCH_TRIES_PER_PROCESS=100`` sets the worker's ``[celery] tries_per_process`` and
``WINDVANE_BENCH_SEND_AHEAD=1`` makes the executor send ahead (``[executor] send_ahead``); an older
tree ignores both (for ``compare_revisions.py --work-script``).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pendulum
from _common import fresh_db, median, pct, table
from _cpu import process_cpu
from b12_local import CHAIN, FANOUT
from sqlalchemy import select

from windvane.celery.config import CeleryConfig
from windvane.celery.executor import CeleryExecutor
from windvane.celery.task import WorkerOptions
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.executors.base import Executor
from windvane.core.executors.local import LocalExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.pools import set_pool
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.worker.dag_loader import DagLoader


@contextlib.contextmanager
def own_redis(folder: Path) -> Iterator[tuple[str, int | None]]:
    """A redis-server of the bench's own: (its URL, its pid)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: pass --redis URL")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    folder.mkdir(parents=True, exist_ok=True)
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
               "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no"]  # fmt: skip
    with open(folder / "redis.log", "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"redis-server on port {port} did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def start_worker(config: CeleryConfig, url: str, home: Path, concurrency: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WINDVANE_HOME": str(home),
        "WINDVANE__DATABASE__SQL_ALCHEMY_CONN": url,
        "WINDVANE__CELERY__BROKER_URL": config.broker_url,
        "WINDVANE__CELERY__RESULT_BACKEND": config.result_backend,
        "WINDVANE__CELERY__DEFAULT_QUEUE": config.default_queue,
        "WINDVANE__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "WINDVANE__LOGGING__LEVEL": "WARNING",
        **({"WINDVANE__CELERY__TRIES_PER_PROCESS": str(_TRIES)} if _TRIES else {}),
    }
    log = open(home / "worker.log", "wb")  # noqa: SIM115 (kept open for the process's life)
    command = [
        sys.executable,
        "-m",
        "windvane.cli.main",
        "celery",
        "worker",
        "--concurrency",
        str(concurrency),
    ]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while b"worker ready" not in (home / "worker.log").read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the Celery worker did not start:\n{(home / 'worker.log').read_text()}")
        time.sleep(0.05)
    return proc


def run_one(
    kind: str, source: str, dag_id: str, home: Path, parallelism: int, executor_kind: str,
    redis: tuple[str, int | None], concurrency: int,
) -> dict[str, float]:  # fmt: skip
    path = home / f"{dag_id}.py"
    path.write_text(textwrap.dedent(source))
    with fresh_db(kind) as (url, engine):
        ser = serialize_dag(DagLoader().get_dag(str(path), dag_id))
        now = pendulum.now("UTC")
        with begin_write(engine) as conn:
            set_pool(conn, "wide", 4096)
            upsert_dag(
                conn, dag_id=dag_id, fileloc=str(path), dag_hash=ser.dag_hash, serialized=ser.to_json(),
                last_parsed_at=now,
            )  # fmt: skip
            trigger_dag(conn, ser, now=now)
        worker = None
        make: Callable[[], Executor]
        if executor_kind == "celery":
            config = CeleryConfig(
                broker_url=f"{redis[0]}/13",
                result_backend=f"{redis[0]}/14",
                default_queue=f"bench-{uuid.uuid4().hex[:8]}",
            )
            worker = start_worker(config, url, home, concurrency)
            make = lambda: CeleryExecutor(parallelism, config=config, db_url=url, **_SEND_AHEAD)  # noqa: E731
        else:
            make = lambda: LocalExecutor(parallelism, db_url=url, log_folder=str(home / "logs"))  # noqa: E731
        self_before, children_before = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        redis_before = _redis_cpu(redis[1])
        try:
            config_s = SchedulerConfig(
                parallelism=parallelism, poll_interval_seconds=0.5, idle_sleep_seconds=0.5
            )
            scheduler = Scheduler(engine=engine, executor=make(), config=config_s)
            scheduler.run(until=lambda s: not s.runs and s.job_id != 0, timeout=900)
        finally:
            if worker is not None:
                os.killpg(worker.pid, signal.SIGTERM)
                # Reaped, the worker (with its pool and tries) counts in RUSAGE_CHILDREN: once (the
                # bench before this one added wait4's usage too, counting the Celery worker twice).
                os.wait4(worker.pid, 0)
        # Local: the scheduler process and its worker processes (reaped by end()). Celery: the
        # scheduler process, plus the worker (with its startup: see cpu_worker_idle in the docs).
        scheduler_cpu = _cpu(resource.RUSAGE_SELF) - self_before
        workers_cpu = _cpu(resource.RUSAGE_CHILDREN) - children_before
        redis_cpu = _redis_cpu(redis[1]) - redis_before
        with begin_read(engine) as conn:
            rows = conn.execute(
                select(task_instance.c.start_date, task_instance.c.end_date, task_instance.c.state).order_by(
                    task_instance.c.start_date
                )
            ).all()
            run_state = conn.execute(select(dag_run.c.state)).scalar_one()
    starts, ends = [r.start_date for r in rows], [r.end_date for r in rows]
    makespan = (max(ends) - min(starts)).total_seconds()
    gaps = [(starts[i + 1] - ends[i]).total_seconds() * 1000 for i in range(len(rows) - 1)]
    ok = run_state == "success" and all(r.state == "success" for r in rows)
    return {"n": len(rows), "ok": float(ok), "makespan": makespan, "tis": len(rows) / makespan,
            "gap_p50": median(gaps), "gap_p95": pct(gaps, 95),
            "cpu_ms": 1000 * (scheduler_cpu + workers_cpu + redis_cpu) / len(rows),
            "sched_ms": 1000 * scheduler_cpu / len(rows), "workers_ms": 1000 * workers_cpu / len(rows),
            "redis_ms": 1000 * redis_cpu / len(rows)}  # fmt: skip


#: WINDVANE_BENCH_TRIES_PER_PROCESS=N: the worker's [celery] tries_per_process (an older one ignores it).
_TRIES = (
    int(os.environ.get("WINDVANE_BENCH_TRIES_PER_PROCESS") or 0)
    if "tries_per_process" in WorkerOptions.__dataclass_fields__
    else 0
)
#: WINDVANE_BENCH_SEND_AHEAD=1: the Celery executor sends ahead (if it can: an older one cannot).
_SEND_AHEAD = (
    {"send_ahead": True}
    if os.environ.get("WINDVANE_BENCH_SEND_AHEAD") == "1"
    and "send_ahead" in inspect.signature(CeleryExecutor).parameters
    else {}
)


def _redis_cpu(pid: int | None) -> float:
    return 0.0 if pid is None else process_cpu(pid) or 0.0


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--executors", default="local,celery")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="Celery worker concurrency (0: parallelism)"
    )
    parser.add_argument("--redis", default="", help="A Redis URL to use instead of a redis-server of our own")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        redis = (args.redis, None) if args.redis else stack.enter_context(own_redis(Path(tmp) / "redis"))
        for kind in args.db.split(","):
            for executor_kind in args.executors.split(","):
                for label, source, dag_id in (
                    ("B1 chain", CHAIN.format(n=args.chain), "b1_chain"),
                    ("B2 fan-out", FANOUT.format(n=args.fanout), "b2_fanout"),
                ):
                    home = Path(tmp) / f"{kind}-{executor_kind}-{dag_id}"
                    home.mkdir()
                    r = run_one(kind, source, dag_id, home, args.parallelism, executor_kind, redis,
                                args.concurrency or args.parallelism)  # fmt: skip
                    rows.append([kind, executor_kind, label, r["n"], r["ok"] == 1.0, r["makespan"], r["tis"],
                                 r["gap_p50"], r["gap_p95"], r["cpu_ms"], r["sched_ms"], r["workers_ms"],
                                 r["redis_ms"]])  # fmt: skip
    print(
        table(
            f"B1/B2 Celery (Redis) beside local, parallelism {args.parallelism}, no-op tasks "
            "(Celery targets: B1 gap p50 <= 50 ms, B2 >= 150 TI/s)",
            [
                "db",
                "executor",
                "workload",
                "TIs",
                "all ok",
                "makespan s",
                "TI/s",
                "gap p50 ms",
                "gap p95 ms",
                "CPU ms/TI",
                "sched ms/TI",
                "workers ms/TI",
                "redis ms/TI",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
