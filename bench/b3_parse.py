"""B3: DAG processor throughput.

Generates N DAG files (default 1,000) of T tasks each (default 10; a mix of
chains and fan-out/fan-in shapes, simple imports) into a temporary folder and
times :meth:`DagProcessor.run_once`:

* cold: a fresh, migrated database, nothing parsed yet;
* unchanged re-scan: the same processor, no file changed.

on SQLite and on PostgreSQL (a fresh database created on the server and
dropped afterwards). Targets (issue 15): cold <= 5 s, unchanged re-scan <= 0.5 s. Each cold pass
also shows its CPU seconds: the processor's, the parse template's (the lean process that forks
the children, when there is one) and the parse children's: wall time moves with the machine's
load, CPU barely does.

``--fork-from processor`` makes the processor fork the children itself, as before the template.
To compare with another revision, run this script against its sources (it only uses the
processor's public API): ``PYTHONPATH=/path/to/old/src .venv/bin/python bench/b3_parse.py``.

    .venv/bin/python bench/b3_parse.py [--files 1000] [--tasks 10] [--processes 2]
        [--pg-url URL (default $WINDVANE_BENCH_PG_URL or the local server)] [--no-postgres]
        [--fork-from template|processor]
"""

from __future__ import annotations

import argparse
import inspect
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


def _live_children() -> list[int]:
    """This process's children still running (the parse template lives across passes)."""
    pids: list[int] = []
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as listing:
                pids += [int(p) for p in listing.read().split()]
        except OSError:
            continue
    return pids


def _stat_cpu(pid: int) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of a live ``pid`` from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            raw = stat.read()
    except OSError:
        return 0.0, 0.0
    fields = raw[raw.rfind(")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick
    kids = (int(fields[13]) + int(fields[14])) / tick
    return own, kids


def cpu_now() -> tuple[float, float, float]:
    """CPU seconds of this process (the processor), of the live template processes, and of the
    parse children (reaped by this process or by a template)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    template = children = 0.0
    for pid in _live_children():
        own, reaped = _stat_cpu(pid)
        template += own
        children += reaped
    return me.ru_utime + me.ru_stime, template, kids.ru_utime + kids.ru_stime + children


def measure(
    engine: Engine, folder: Path, processes: int, fork_from: str
) -> tuple[ParseReport, ParseReport, int, int, tuple[float, float, float]]:
    migrate(engine)
    options = {} if fork_from == "template" else {"parse_from_template": False}
    processor = DagProcessor(folder, engine, parsing_processes=processes, parse_timeout=30.0, **options)
    before = cpu_now()
    cold = processor.run_once()
    after = cpu_now()
    rescan = processor.run_once()
    with begin_read(engine) as conn:
        stored = conn.execute(select(func.count()).select_from(dag).where(dag.c.is_active)).scalar_one()
        errors = conn.execute(select(func.count()).select_from(import_error)).scalar_one()
    return cold, rescan, stored, errors, (after[0] - before[0], after[1] - before[1], after[2] - before[2])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--pg-url", default=os.environ.get("WINDVANE_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--fork-from", choices=("template", "processor"), default="template")
    args = parser.parse_args()

    rows: list[tuple[str, ParseReport, ParseReport, int, int, tuple[float, float, float]]] = []
    with tempfile.TemporaryDirectory(prefix="wv_b3_") as tmp:
        workdir = Path(tmp)
        folder = workdir / "dags"
        folder.mkdir()
        started = time.perf_counter()
        generate(folder, args.files, args.tasks)
        print(
            f"generated {args.files} DAG files x {args.tasks} tasks in {time.perf_counter() - started:.2f} s"
        )
        if not args.no_sqlite:
            with sqlite_engine(workdir) as engine:
                rows.append(("sqlite", *measure(engine, folder, args.processes, args.fork_from)))
        if not args.no_postgres:
            with postgres_engine(args.pg_url) as engine:
                rows.append(("postgresql", *measure(engine, folder, args.processes, args.fork_from)))

    ok = True
    print()
    print(
        f"{'backend':<11} {'cold s':>8} {'rescan s':>9} {'parsed':>7} {'DAGs':>6} {'errors':>6} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'CPU s':>6} {'parent':>6} {'templ':>6} {'kids':>6}  verdict"
    )
    for backend, cold, rescan, stored, errors, (parent, template, kids) in rows:
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
            f"{parent + template + kids:>6.2f} {parent:>6.2f} {template:>6.2f} {kids:>6.2f}  "
            f"{'PASS' if good else 'FAIL'}"
        )
    print(f"\ntargets: cold <= {COLD_TARGET:g} s, unchanged re-scan <= {RESCAN_TARGET:g} s")
    print(
        "CPU s: the cold pass's CPU: the processor's (parent), the parse template's (templ) and "
        "the parse children's (kids)"
    )
    has_template = "parse_from_template" in inspect.signature(DagProcessor).parameters
    where = args.fork_from if has_template else "processor (this revision has no template)"
    print(f"children forked from the {where}; load average {os.getloadavg()[0]:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
