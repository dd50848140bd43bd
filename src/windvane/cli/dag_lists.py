"""``windvane dags list | list-runs | list-import-errors`` and ``windvane tasks list``: the listings,
quick to start.

They read through :func:`~windvane.cli.quick_read.read_listing` (no SQLAlchemy when the schema is
current) and print with :class:`~windvane.cli.output.Output` (no rich for JSON, plain text or a
table going to a pipe): ``windvane dags list`` is the command ``bench/cli_startup.py`` times, and
``tests/cli/test_import_time.py`` keeps SQLAlchemy, Alembic, rich and the scheduler out of it.
Their arguments are in :mod:`windvane.cli.parser.dags` and :mod:`windvane.cli.parser.tasks`.
"""

from __future__ import annotations

import argparse

from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli
from windvane.cli.output import shown_path
from windvane.cli.quick_read import read_listing
from windvane.core.model.quarantine_note import quarantined_dag_ids
from windvane.core.store import lists_sql
from windvane.core.store.raw_sql import Tx
from windvane.core.store.rows import DagRow, DagRunRow, ImportErrorRow


def _list(cli: Cli, args: argparse.Namespace) -> int:
    def body(tx: Tx) -> tuple[list[DagRow], list[ImportErrorRow]]:
        return lists_sql.active_dags(tx), lists_sql.import_errors(tx)

    dags, errors = read_listing(cli.settings, body)
    quarantined = quarantined_dag_ids(e.stacktrace for e in errors)
    folder = cli.settings.core.dags_folder
    rows = [
        {
            "dag_id": d.dag_id,
            "file": d.fileloc if args.output == "json" else shown_path(d.fileloc, folder),
            "paused": d.is_paused,
            "schedule": d.timetable_summary,
            "owners": d.owners,
            "next_run": d.next_dagrun_logical_date,
            "next_run_after": d.next_dagrun_create_after,
            "tags": d.tags,
            "quarantined": d.dag_id in quarantined,
        }
        for d in dags
    ]
    columns = ["dag_id", "file", "paused", "schedule", "owners", "next_run"]
    if quarantined:  # see `dags list-import-errors` for why
        columns.append("quarantined")
    cli.out.rows(rows, columns, fmt=args.output, empty=f"No DAGs found (DAGs folder: {folder}).")
    return EXIT_OK


def _list_runs(cli: Cli, args: argparse.Namespace) -> int:
    def body(tx: Tx) -> list[DagRunRow]:
        lists_sql.require_dag(tx, args.dag_id)  # NotFoundError naming an unknown DAG
        return lists_sql.dag_runs(tx, args.dag_id, limit=args.limit, state=args.state)

    rows = [
        {
            "run_id": r.run_id,
            "run_type": r.run_type,
            "state": r.state,
            "logical_date": r.logical_date,
            "start_date": r.start_date,
            "end_date": r.end_date,
            "conf": r.conf,
        }
        for r in read_listing(cli.settings, body)
    ]
    columns = ["run_id", "run_type", "state", "logical_date", "start_date", "end_date"]
    cli.out.rows(rows, columns, fmt=args.output, empty=f"DAG {args.dag_id} has no runs.")
    return EXIT_OK


def _list_import_errors(cli: Cli, args: argparse.Namespace) -> int:
    def body(tx: Tx) -> tuple[list[ImportErrorRow], int]:
        return lists_sql.import_errors(tx), lists_sql.parsed_file_count(tx)

    errors, parsed_files = read_listing(cli.settings, body)
    if not errors and not parsed_files:
        # An empty list here means "no DAG processor ran", not "the DAGs are fine": never report success.
        cli.out.error(
            f"Nothing has been parsed yet (DAGs folder: {cli.settings.core.dags_folder}): no DAG processor "
            "has stored any file, so there is no import error to list. Run 'windvane dag-processor -n 1' "
            "first, or check the folder without a database: 'windvane dags check'."
        )
        if args.output == "json":
            cli.out.json([])
        return EXIT_FAILURE
    if args.output == "json":
        cli.out.json([{"file": e.filename, "timestamp": e.timestamp, "error": e.stacktrace} for e in errors])
    elif not errors:
        cli.out.note("No import errors.")
    else:
        for e in errors:
            cli.out.line(f"{e.filename} (at {e.timestamp.isoformat()}):")
            cli.out.line("    " + e.stacktrace.rstrip().replace("\n", "\n    "))
    return EXIT_FAILURE if errors else EXIT_OK


def _tasks_list(cli: Cli, args: argparse.Namespace) -> int:
    from windvane.core.model.serialized_dag import SerializedDag  # pendulum: not in `dags list`

    dag = SerializedDag.from_json(
        read_listing(cli.settings, lambda tx: lists_sql.serialized(tx, args.dag_id))
    )
    if args.tree and args.output != "json":
        from windvane.cli.graph import task_tree  # rich.tree: only here

        cli.out.render(task_tree(dag))
        return EXIT_OK
    rows = [
        {
            "task_id": t.task_id,
            "operator": t.operator,
            "upstream": list(t.upstream),
            "downstream": list(t.downstream),
        }
        for t in dag.tasks.values()
    ]
    cli.out.rows(
        rows, ["task_id", "operator", "upstream"], fmt=args.output, empty=f"DAG {dag.dag_id} has no tasks."
    )
    return EXIT_OK
