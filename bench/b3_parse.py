"""B3: DAG processor throughput.

Generates N DAG files (default 1,000) of T tasks each (default 10; a mix of
chains and fan-out/fan-in shapes, simple imports) into a temporary folder and
times :meth:`DagProcessor.run_once`:

* cold: a fresh, migrated database, nothing parsed yet;
* unchanged re-scan: the same processor, no file changed.

on SQLite and on PostgreSQL (a fresh database created on the server and
dropped afterwards). Targets (issue 15): cold <= 5 s, unchanged re-scan <= 0.5 s. Each cold pass
also shows its CPU seconds (the processor's and its children's): wall time moves with the
machine's load, CPU barely does.

    .venv/bin/python bench/b3_parse.py [--files 1000] [--tasks 10] [--processes 2]
        [--pg-url URL (default $WINDVANE_BENCH_PG_URL or the local server)] [--no-postgres]
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select

from windvane.core.processor import DagProcessor, ParseReport
from windvane.core.store.engine import begin_read, create_db_engine, normalize_url
from windvane.core.store.migrate import migrate
from windvane.core.store.tables import dag, import_error

COLD_TARGET = 5.0
RESCAN_TARGET = 0.5
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

HEADER = """\
import pendulum

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.operators.python import PythonOperator


def work(**context):
    return 1


with DAG(
    "bench_{index:05d}",
    schedule="{schedule}",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["bench"],
):
"""


def dag_source(index: int, tasks: int) -> str:
    """One DAG file: a chain (even index) or a fan-out / fan-in (odd index) of ``tasks`` tasks."""
    schedule = ("@daily", "@hourly", "*/15 * * * *", "0 3 * * 1")[index % 4]
    lines = [HEADER.format(index=index, schedule=schedule)]
    for t in range(tasks):
        if t % 3 == 1:
            lines.append(f'    t{t} = PythonOperator(task_id="t{t}", python_callable=work)\n')
        else:
            lines.append(f'    t{t} = EmptyOperator(task_id="t{t}")\n')
    if index % 2 == 0:
        lines.append("    " + " >> ".join(f"t{t}" for t in range(tasks)) + "\n")
    else:
        middle = ", ".join(f"t{t}" for t in range(1, tasks - 1))
        lines.append(f"    t0 >> [{middle}] >> t{tasks - 1}\n")
    return "".join(lines)


def generate(folder: Path, files: int, tasks: int) -> None:
    for i in range(files):
        sub = folder / f"team_{i % 10}"
        sub.mkdir(exist_ok=True)
        (sub / f"dag_{i:05d}.py").write_text(dag_source(i, tasks))


@contextmanager
def sqlite_engine(workdir: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{workdir / 'bench.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def postgres_engine(server_url: str) -> Iterator[Engine]:
    server = normalize_url(server_url)
    name = f"wv_bench_{secrets.token_hex(4)}"
    admin = create_db_engine(server.render_as_string(hide_password=False), pool_size=1)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_db_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def cpu_now() -> tuple[float, float]:
    """CPU seconds of this process and of its reaped children (the parse children)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def measure(
    engine: Engine, folder: Path, processes: int
) -> tuple[ParseReport, ParseReport, int, int, tuple[float, float]]:
    migrate(engine)
    processor = DagProcessor(folder, engine, parsing_processes=processes, parse_timeout=30.0)
    before = cpu_now()
    cold = processor.run_once()
    after = cpu_now()
    rescan = processor.run_once()
    with begin_read(engine) as conn:
        stored = conn.execute(select(func.count()).select_from(dag).where(dag.c.is_active)).scalar_one()
        errors = conn.execute(select(func.count()).select_from(import_error)).scalar_one()
    return cold, rescan, stored, errors, (after[0] - before[0], after[1] - before[1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--pg-url", default=os.environ.get("WINDVANE_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    rows: list[tuple[str, ParseReport, ParseReport, int, int, tuple[float, float]]] = []
    with tempfile.TemporaryDirectory(prefix="wv_b3_") as tmp:
        workdir = Path(tmp)
        folder = workdir / "dags"
        folder.mkdir()
        started = time.perf_counter()
        generate(folder, args.files, args.tasks)
        print(
            f"generated {args.files} DAG files x {args.tasks} tasks in {time.perf_counter() - started:.2f} s"
        )
        with sqlite_engine(workdir) as engine:
            rows.append(("sqlite", *measure(engine, folder, args.processes)))
        if not args.no_postgres:
            with postgres_engine(args.pg_url) as engine:
                rows.append(("postgresql", *measure(engine, folder, args.processes)))

    ok = True
    print()
    print(
        f"{'backend':<11} {'cold s':>8} {'rescan s':>9} {'parsed':>7} {'DAGs':>6} {'errors':>6} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'CPU s':>6} {'parent':>6} {'kids':>6}  verdict"
    )
    for backend, cold, rescan, stored, errors, (parent, kids) in rows:
        durations = sorted(cold.durations.values()) or [0.0]
        p50 = durations[len(durations) // 2] * 1000
        p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))] * 1000
        good = (
            cold.total_parse_time <= COLD_TARGET
            and rescan.total_parse_time <= RESCAN_TARGET
            and stored == args.files
            and errors == 0
            and rescan.parsed == 0
        )
        ok = ok and good
        print(
            f"{backend:<11} {cold.total_parse_time:>8.2f} {rescan.total_parse_time:>9.3f} {cold.parsed:>7} "
            f"{stored:>6} {errors:>6} {p50:>7.1f} {p99:>7.1f} "
            f"{parent + kids:>6.2f} {parent:>6.2f} {kids:>6.2f}  {'PASS' if good else 'FAIL'}"
        )
    print(f"\ntargets: cold <= {COLD_TARGET:g} s, unchanged re-scan <= {RESCAN_TARGET:g} s")
    print("CPU s: the cold pass's CPU, the processor's (parent) and its parse children's (kids)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
