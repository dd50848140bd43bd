"""B1, B2 and B5: the real runtime (scheduler + LocalExecutor, parallelism 2) on no-op Python tasks.

B1  chain of 100 tasks, one run: gap between a task's end and the next one's start (p50/p95, from the
    DB timestamps) and makespan. Targets: p50 <= 50 ms, p95 <= 150 ms.
B2  fan-out 1 -> 1000 -> 1, one run: makespan and task instances per second. Targets (issue 15):
    >= 400 TI/s on SQLite, >= 300 on PostgreSQL.
CPU milliseconds per task instance, split scheduler (this process) / workers and their task
    processes (reaped children) / database server (the PostgreSQL backends of the bench database,
    sampled from /proc), the largest worker resident set seen, and the largest proportional
    set of all workers with their try hosts summed (a page a host shares with its worker counts
    once). On a shared machine CPU per TI is the figure to compare; TI/s moves with everyone
    else's load.
B5  database transactions per task instance (commits on the scheduler's engine plus the workers'
    own, as LocalExecutor.db_commits reports them), target <= 2 amortised; and SQL statements per
    task instance (the scheduler's through SQLAlchemy and its plain ones, raw_sql.Tx.executed, plus
    the workers', LocalExecutor.db_statements; BEGIN/COMMIT not counted), split scheduler / worker.

    python bench/b12_local.py [--db sqlite,postgres] [--chain 100] [--fanout 1000]
                              [--configs 1:off,1:on,100:on]
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import time
from pathlib import Path

import pendulum
from _common import fresh_db, median, pct, table
from _cpu import BackendCpu, cpu_split, pss_tree_mib, rss_mib
from sqlalchemy import event, select

from windvane.core.authoring.serialize import serialize_dag
from windvane.core.executors.local import LocalExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.raw_sql import Tx
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.worker.dag_loader import DagLoader

CHAIN = """
import pendulum
from windvane import DAG, PythonOperator

def noop():
    pass

with DAG("b1_chain", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), max_active_tasks=64) as dag:
    prev = None
    for i in range({n}):
        t = PythonOperator(task_id=f"t{{i:03d}}", python_callable=noop)
        if prev is not None:
            prev >> t
        prev = t
"""

FANOUT = """
import pendulum
from windvane import DAG, PythonOperator

def noop():
    pass

with DAG("b2_fanout", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), max_active_tasks=2048) as dag:
    first = PythonOperator(task_id="first", python_callable=noop)
    last = PythonOperator(task_id="last", python_callable=noop)
    for i in range({n}):
        first >> PythonOperator(task_id=f"mid{{i:04d}}", python_callable=noop, pool="wide") >> last
"""


def run_one(
    kind: str, source: str, dag_id: str, home: Path, tries_per_process: int = 1, send_ahead: bool = True
) -> dict[str, float]:
    path = home / f"{dag_id}.py"
    path.write_text(textwrap.dedent(source))
    with fresh_db(kind) as (url, engine):
        dag = DagLoader().get_dag(str(path), dag_id)
        ser = serialize_dag(dag)
        with begin_write(engine) as conn:
            from windvane.core.store.pools import set_pool

            set_pool(conn, "wide", 4096)
            upsert_dag(
                conn,
                dag_id=dag_id,
                fileloc=str(path),
                dag_hash=ser.dag_hash,
                serialized=ser.to_json(),
                last_parsed_at=pendulum.now("UTC"),
            )
            trigger_dag(conn, ser, now=pendulum.now("UTC"))
        scheduler_tx = [0]
        scheduler_sql = [0]

        @event.listens_for(engine, "commit")
        def _count(conn):  # type: ignore[no-untyped-def]
            scheduler_tx[0] += 1

        @event.listens_for(engine, "after_cursor_execute")
        def _count_autocommit(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            # A write outside BEGIN/COMMIT is a transaction of its own.
            autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
            verb = statement.lstrip()[:6].upper()
            if autocommit and verb in ("UPDATE", "INSERT", "DELETE"):
                scheduler_tx[0] += 1
            if verb not in _CONTROL:
                scheduler_sql[0] += len(parameters) if executemany else 1

        executor = LocalExecutor(
            2,
            db_url=url,
            log_folder=str(home / "logs"),
            tries_per_process=tries_per_process,
            send_ahead=send_ahead,
        )
        config = SchedulerConfig(parallelism=2, poll_interval_seconds=0.5, idle_sleep_seconds=0.5)
        scheduler = Scheduler(engine=engine, executor=executor, config=config)

        worker_rss = [0.0]
        worker_pss = [0.0]
        calls = [0]

        def finished(_s: Scheduler) -> bool:
            calls[0] += 1
            if calls[0] % 50 == 1:  # the workers' resident sets (and, summed, the proportional
                # sets of the workers with their try hosts), now and then
                for w in executor._workers:
                    worker_rss[0] = max(worker_rss[0], rss_mib(w.process.pid))
                pss = sum(pss_tree_mib(w.process.pid) for w in executor._workers)
                worker_pss[0] = max(worker_pss[0], pss)
            return not _s.runs and _s.job_id != 0

        t0, raw0 = time.perf_counter(), Tx.executed
        with BackendCpu(engine).sampling() as backends, cpu_split() as cpu:
            scheduler.run(until=finished, timeout=900)
        wall = time.perf_counter() - t0
        scheduler_sql[0] += Tx.executed - raw0
        with begin_read(engine) as conn:
            rows = conn.execute(
                select(
                    task_instance.c.task_id,
                    task_instance.c.start_date,
                    task_instance.c.end_date,
                    task_instance.c.state,
                ).order_by(task_instance.c.start_date)
            ).all()
            run_state = conn.execute(select(dag_run.c.state)).scalar_one()
        worker_tx = executor.db_commits  # the workers' (they report them with each try)
        starts = [r.start_date for r in rows]
        ends = [r.end_date for r in rows]
        makespan = (max(ends) - min(starts)).total_seconds()
        gaps = [(starts[i + 1] - ends[i]).total_seconds() * 1000 for i in range(len(rows) - 1)]
        n = len(rows)
        return {
            "n": n,
            "state_ok": float(run_state == "success" and all(r.state == "success" for r in rows)),
            "wall": wall,
            "makespan": makespan,
            "tis": n / makespan,
            "gap_p50": median(gaps),
            "gap_p95": pct(gaps, 95),
            "tx_per_ti": (scheduler_tx[0] + worker_tx) / n,
            "sched_tx": scheduler_tx[0] / n,
            "worker_tx": worker_tx / n,
            "sql_per_ti": (scheduler_sql[0] + executor.db_statements) / n,
            "sched_sql": scheduler_sql[0] / n,
            "worker_sql": executor.db_statements / n,
            # CPU ms per TI: the scheduler (this process), workers with their task children, the
            # database server's backends (PostgreSQL), and all of them.
            "cpu_sched": cpu["self"] / n * 1000,
            "cpu_workers": cpu["children"] / n * 1000,
            "cpu_db": backends.seconds / n * 1000,
            "cpu_total": (cpu["self"] + cpu["children"] + backends.seconds) / n * 1000,
            "worker_rss": worker_rss[0],
            "worker_pss": worker_pss[0],
        }


#: Transaction control, not counted as statements.
_CONTROL = ("BEGIN", "BEGIN ", "COMMIT", "ROLLBA", "SAVEPO", "RELEAS", "PRAGMA")


def columns(result: dict[str, float]) -> list[object]:
    """The CPU, worker RSS and B5 cells of one run: CPU ms per TI (total; scheduler / workers and
    their task processes / database server), the largest worker RSS seen, commits/TI and
    statements/TI (each total and scheduler / worker)."""
    return [
        result["cpu_total"],
        f"{result['cpu_sched']:.2f}/{result['cpu_workers']:.2f}/{result['cpu_db']:.2f}",
        result["worker_rss"],
        result["worker_pss"],
        result["tx_per_ti"],
        f"{result['sched_tx']:.2f}/{result['worker_tx']:.2f}",
        result["sql_per_ti"],
        f"{result['sched_sql']:.2f}/{result['worker_sql']:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument(
        "--configs",
        default="1:off,1:on,100:on",
        help="comma-separated executor set-ups to compare, each TRIES_PER_PROCESS:SEND_AHEAD "
        "(1: a fork per try; off: no try sent ahead to a busy worker, as before issue 15)",
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for kind in args.db.split(","):
            for config in args.configs.split(","):
                tpp_text, _, ahead = config.partition(":")
                tpp, send_ahead = int(tpp_text), ahead != "off"
                for label, source, dag_id in (
                    ("B1 chain", CHAIN.format(n=args.chain), "b1_chain"),
                    ("B2 fan-out", FANOUT.format(n=args.fanout), "b2_fanout"),
                ):
                    r = run_one(kind, source, dag_id, home, tpp, send_ahead)
                    rows.append(
                        [
                            kind,
                            label,
                            f"{tpp}:{'on' if send_ahead else 'off'}",
                            r["n"],
                            r["state_ok"] == 1.0,
                            r["makespan"],
                            r["tis"],
                            r["gap_p50"],
                            r["gap_p95"],
                            *columns(r),
                        ]
                    )
    print(
        table(
            "B1/B2/B5 LocalExecutor parallelism 2, no-op PythonOperator tasks "
            "(targets: B1 gap p50 <= 50 ms, p95 <= 150 ms; B2 >= 200 TI/s; B5 <= 2 commits/TI, <= 2 SQL/TI)",
            [
                "db",
                "workload",
                "tries/proc:ahead",
                "TIs",
                "all ok",
                "makespan s",
                "TI/s",
                "gap p50 ms",
                "gap p95 ms",
                "CPU ms/TI",
                "sched/work/db",
                "worker RSS MiB",
                "workers+hosts PSS MiB",
                "commits/TI",
                "sched/worker",
                "SQL/TI",
                "sched/worker",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
