"""``windvane dags test``: one whole run of a DAG in this process (no scheduler, no database writes)."""

from __future__ import annotations

import argparse

from windvane.cli.args import date_text, json_object, to_datetime
from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, Subparsers, add_command, add_output_option
from windvane.cli.dag_files import load_dag
from windvane.cli.logs import configure_logging
from windvane.cli.output import error_summary
from windvane.core.model.states import DagRunState
from windvane.core.task_api.masking import masked_stdio
from windvane.core.worker.in_process import DagRunResult, run_dag_in_process

_DESCRIPTION = """\
Import the DAG's file in this process and run every task once, one at a time,
in dependency order: no scheduler, no executor, nothing written to the metadata
database (XComs are kept in memory). Retries run again at once. Prints each
task's final state, tries, duration and error; exit code 1 if the run failed.

The file is the one the DAG processor stored for the DAG, or else the first
file of the DAGs folder that defines it. The run's data interval is the one
'dags trigger' gives a run at the same logical date: for a periodic schedule,
the last interval complete at that date."""


def register(group: Subparsers) -> None:
    command = add_command(
        group, "test", _test, "Run one DAG run in this process, for debugging.", _DESCRIPTION
    )
    command.add_argument("dag_id", help="The DAG to run.")
    command.add_argument(
        "logical_date",
        nargs="?",
        type=date_text,
        help="Logical date of the run (ISO 8601; default now; no offset means core.default_timezone).",
    )
    command.add_argument("-c", "--conf", type=json_object, help="Run configuration, a JSON object.")
    add_output_option(command)


def _test(cli: Cli, args: argparse.Namespace) -> int:
    configure_logging(cli.settings, verbose=cli.verbose)
    dag = load_dag(cli.settings, args.dag_id)
    tz = cli.settings.core.default_timezone
    logical = to_datetime(args.logical_date, tz) if args.logical_date else None
    timeout = cli.settings.core.callback_timeout_seconds
    with masked_stdio():  # what the tasks print, with their secrets masked
        result = run_dag_in_process(dag, logical_date=logical, conf=args.conf, callback_timeout=timeout)
    _report(cli, result, args.output)
    return EXIT_OK if result.state is DagRunState.SUCCESS else EXIT_FAILURE


def _report(cli: Cli, result: DagRunResult, fmt: str) -> None:
    rows = [
        {
            "task_id": r.task_id,
            "state": r.state.value,
            "tries": r.tries,
            "duration": round(r.duration, 3),
            "error": r.error,
        }
        for r in result.tasks.values()
    ]
    if fmt == "json":
        cli.out.json(
            {"dag_id": result.dag_id, "run_id": result.run_id, "state": result.state.value, "tasks": rows}
        )
        return
    cli.out.rows(
        rows, ["task_id", "state", "tries", "duration"], fmt=fmt, title=f"{result.dag_id} {result.run_id}"
    )
    for r in result.tasks.values():
        if r.error:  # the whole traceback is in the task's log lines on stderr (and in -o json)
            cli.out.line(f"  {r.task_id} ({r.state.value}): {error_summary(r.error)}")
    cli.out.line(f"Run {result.run_id} of DAG {result.dag_id}: {result.state.value}")
