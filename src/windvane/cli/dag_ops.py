"""``windvane dags delete | next-execution | report``: operations on a DAG's stored state.

``dags delete`` removes the DAG's rows from every table that has a ``dag_id``
column (Airflow's approach: plug-ins' tables such as the alert outbox and SLA
misses go too, with no list to maintain), children before parents, in one
transaction, and forgets the DAG file's parse record so that the DAG
processor parses the file again: a DAG whose file is still there comes back,
empty, on the next pass (the command says so).
"""

from __future__ import annotations

import argparse
import json
import os

import pendulum
from sqlalchemy import Connection, MetaData, delete, func, select

from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, confirm
from windvane.cli.output import shown_path
from windvane.cli.views import load_serialized
from windvane.cli.wiring import open_engine
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.store._time import from_db
from windvane.core.store.dags import get_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.tables import dag as dag_t
from windvane.core.store.tables import dag_file, import_error
from windvane.core.timetables import DataInterval, TimeRestriction


def delete_command(cli: Cli, args: argparse.Namespace) -> int:
    dag_id: str = args.dag_id
    with open_engine(cli.settings) as engine:
        with begin_read(engine) as conn:
            row = get_dag(conn, dag_id)  # NotFoundError naming an unknown DAG
        question = f"Delete DAG {dag_id} and all its runs, task instances and XComs?"
        if not confirm(question, yes=args.yes, what=f"delete DAG {dag_id}"):
            cli.out.note("Nothing deleted.")
            return EXIT_FAILURE
        with begin_write(engine) as conn:
            counts = delete_dag_rows(conn, dag_id, row.fileloc)
    total = sum(counts.values())
    detail = ", ".join(f"{table} {n}" for table, n in counts.items() if n)
    cli.out.line(f"Deleted DAG {dag_id}: {total} row(s) ({detail}).")
    if os.path.exists(row.fileloc):
        cli.out.note(
            f"Its file {row.fileloc} is still in the DAGs folder: the DAG processor will register the DAG "
            "again (with no history) on its next pass. Remove or rename the file to be rid of it."
        )
    return EXIT_OK


def delete_dag_rows(conn: Connection, dag_id: str, fileloc: str) -> dict[str, int]:
    """Delete ``dag_id``'s rows from every table with a ``dag_id`` column; rows deleted per table."""
    reflected = MetaData()
    reflected.reflect(bind=conn)
    tables = [t for t in reversed(reflected.sorted_tables) if "dag_id" in t.c and t.name != dag_t.name]
    counts: dict[str, int] = {}
    for table in tables:  # children (task_instance, xcom) before dag_run: no reliance on ON DELETE
        counts[table.name] = conn.execute(delete(table).where(table.c.dag_id == dag_id)).rowcount
    counts[dag_t.name] = conn.execute(delete(dag_t).where(dag_t.c.dag_id == dag_id)).rowcount
    # The file's parse record: without it the processor parses the file again even if unchanged.
    counts[dag_file.name] = conn.execute(delete(dag_file).where(dag_file.c.path == fileloc)).rowcount
    return counts


def next_execution(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        row = get_dag(conn, args.dag_id)
        dag = load_serialized(conn, args.dag_id)
    if row.is_paused:
        cli.out.note(f"DAG {args.dag_id} is paused: these runs are created only once it is unpaused.")
    if row.next_dagrun_logical_date is None:
        cli.out.line("None")  # as Airflow: no scheduled run to come
        return EXIT_OK
    start, end = row.next_dagrun_data_interval_start, row.next_dagrun_data_interval_end
    cli.out.line(from_db(row.next_dagrun_logical_date).isoformat())
    if start is None or end is None:
        return EXIT_OK
    interval = DataInterval(pendulum.instance(from_db(start)), pendulum.instance(from_db(end)))
    restriction = TimeRestriction(earliest=dag.start, latest=dag.end, catchup=True, now=pendulum.now("UTC"))
    timetable = dag.timetable_obj
    for _ in range(args.num_executions - 1):
        info = timetable.next_dagrun_info(last_automated_data_interval=interval, restriction=restriction)
        if info is None:
            cli.out.line("None")
            break
        cli.out.line(info.logical_date.isoformat())
        interval = info.data_interval
    return EXIT_OK


def report(cli: Cli, args: argparse.Namespace) -> int:
    folder = cli.settings.core.dags_folder
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        files = conn.execute(
            select(dag_file.c.path, dag_file.c.parse_duration, dag_file.c.last_parsed_at, dag_file.c.dag_ids)
        ).all()
        broken = set(conn.execute(select(import_error.c.filename)).scalars())
        tasks = _task_counts(conn)
        dag_count = conn.execute(select(func.count()).select_from(dag_t)).scalar_one()
    rows = []
    for path, duration, parsed_at, dag_ids in files:
        ids = sorted(json.loads(dag_ids) if isinstance(dag_ids, str) else dag_ids or [])
        rows.append(
            {
                "file": path if args.output == "json" else shown_path(path, folder),
                "duration_seconds": duration,
                "dags": len(ids),
                "tasks": sum(tasks.get(i, 0) for i in ids),
                "dag_ids": ids,
                "last_parsed_at": from_db(parsed_at) if parsed_at is not None else None,
                "import_error": path in broken,
            }
        )
    rows.sort(key=lambda r: (-(r["duration_seconds"] or 0.0), r["file"]))
    columns = ["file", "duration_seconds", "dags", "tasks", "dag_ids", "import_error", "last_parsed_at"]
    empty = f"Nothing has been parsed yet (DAGs folder: {folder}): run 'windvane dag-processor -n 1' first."
    cli.out.rows(rows, columns, fmt=args.output, empty=empty)
    if rows and args.output == "table":
        total = sum(r["duration_seconds"] or 0.0 for r in rows)
        cli.out.note(f"{len(rows)} file(s), {dag_count} DAG(s), parsed in {total:.2f} s in all.")
    return EXIT_OK


def _task_counts(conn: Connection) -> dict[str, int]:
    counts = {}
    for dag_id, text in conn.execute(select(dag_t.c.dag_id, dag_t.c.serialized)):
        counts[dag_id] = len(SerializedDag.from_json(text).tasks)
    return counts
