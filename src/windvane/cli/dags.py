"""``windvane dags list | show | trigger | pause | unpause | list-runs | list-import-errors``: what they do.

Their arguments are in :mod:`windvane.cli.parser.dags`; the other ``dags`` commands live in
:mod:`~windvane.cli.dag_test_command`, :mod:`~windvane.cli.backfill`, :mod:`~windvane.cli.dag_check`,
:mod:`~windvane.cli.state_commands` and :mod:`~windvane.cli.dag_ops`.
"""

from __future__ import annotations

import argparse

import pendulum
from sqlalchemy import func, select

from windvane.cli.args import to_datetime
from windvane.cli.base import (
    EXIT_FAILURE,
    EXIT_OK,
    Cli,
)
from windvane.cli.views import load_serialized, shown_path
from windvane.cli.wiring import open_engine
from windvane.core.scheduler.quarantine import quarantined_dag_ids
from windvane.core.store.dag_runs import list_dag_runs
from windvane.core.store.dags import get_dag, list_dags, set_paused
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.import_errors import list_import_errors
from windvane.core.store.tables import dag_file


def _list(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        dags = list_dags(conn)
        quarantined = quarantined_dag_ids(e.stacktrace for e in list_import_errors(conn))
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


def _show(cli: Cli, args: argparse.Namespace) -> int:
    from windvane.cli.graph import task_tree, to_dot  # rich.tree: only here

    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        dag = load_serialized(conn, args.dag_id)
    if args.dot:
        cli.out.line(to_dot(dag))
    else:
        cli.out.render(task_tree(dag))
    return EXIT_OK


def _trigger(cli: Cli, args: argparse.Namespace) -> int:
    # Timetables and croniter: only here, not in `dags list` (which is timed: bench/cli_startup.py).
    from windvane.core.store.run_actions import trigger_dag

    tz = cli.settings.core.default_timezone
    logical = to_datetime(args.logical_date, tz) if args.logical_date else None
    with open_engine(cli.settings) as engine, begin_write(engine) as conn:
        dag = load_serialized(conn, args.dag_id)
        _, run_id = trigger_dag(
            conn, dag, now=pendulum.now("UTC"), logical_date=logical, conf=args.conf, run_id=args.run_id
        )
    cli.out.line(f"Queued run {run_id} of DAG {args.dag_id}.")
    return EXIT_OK


def _set_paused(cli: Cli, dag_id: str, paused: bool) -> int:
    with open_engine(cli.settings) as engine, begin_write(engine) as conn:
        set_paused(conn, dag_id, paused)
    cli.out.line(f"DAG {dag_id} is {'paused' if paused else 'unpaused'}.")
    return EXIT_OK


def _pause(cli: Cli, args: argparse.Namespace) -> int:
    return _set_paused(cli, args.dag_id, True)


def _unpause(cli: Cli, args: argparse.Namespace) -> int:
    return _set_paused(cli, args.dag_id, False)


def _list_runs(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        get_dag(conn, args.dag_id)  # NotFoundError naming an unknown DAG
        runs = list_dag_runs(conn, args.dag_id, limit=args.limit, state=args.state)
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
        for r in runs
    ]
    columns = ["run_id", "run_type", "state", "logical_date", "start_date", "end_date"]
    cli.out.rows(rows, columns, fmt=args.output, empty=f"DAG {args.dag_id} has no runs.")
    return EXIT_OK


def _list_import_errors(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        errors = list_import_errors(conn)
        parsed_files = conn.execute(select(func.count()).select_from(dag_file)).scalar_one()
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
