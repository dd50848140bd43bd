"""``windvane dags ...``: the arguments of every DAG command (handlers in :mod:`windvane.cli.dags`,
:mod:`~windvane.cli.dag_lists`, :mod:`~windvane.cli.backfill`, :mod:`~windvane.cli.dag_check`,
:mod:`~windvane.cli.dag_test_command`, :mod:`~windvane.cli.state_commands` and
:mod:`~windvane.cli.dag_ops`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from windvane.cli.args import date_text, json_object, positive_int
from windvane.cli.base import Subparsers, add_command, add_group, add_output_option

_DAGS = "windvane.cli.dags:"
_LISTS = "windvane.cli.dag_lists:"
_OPS = "windvane.cli.dag_ops:"
#: The states of a DAG run (``windvane.core.model.states.DagRunState``; a test keeps them equal).
RUN_STATES = ("queued", "running", "success", "failed")
RUN_HELP = "The run: its run id, or its logical date (ISO 8601)."
_LOGICAL_DATE_HELP = "Logical date of the run (ISO 8601; default now; no offset means core.default_timezone)."


def register(commands: Subparsers) -> None:
    group = add_group(commands, "dags", "List, show, trigger, pause, test and backfill DAGs.")

    listing = add_command(
        group, "list", _LISTS + "_list", "List the DAGs the DAG processor has stored.", user_code=False
    )
    add_output_option(listing)

    show = add_command(group, "show", _DAGS + "_show", "Show a DAG's tasks and dependencies as a tree.")
    show.add_argument("dag_id", help="The DAG to show.")
    show.add_argument("--dot", action="store_true", help="Print Graphviz DOT instead of a tree.")

    trigger = add_command(group, "trigger", _DAGS + "_trigger", "Queue a manual run of a DAG.")
    trigger.add_argument("dag_id", help="The DAG to run.")
    trigger.add_argument("-c", "--conf", type=json_object, help="Run configuration, a JSON object.")
    trigger.add_argument("-l", "--logical-date", type=date_text, help=_LOGICAL_DATE_HELP)
    trigger.add_argument("-r", "--run-id", help="Run id (default manual__<logical date>).")

    pause = add_command(
        group, "pause", _DAGS + "_pause", "Pause a DAG: no new scheduled runs, queued tasks wait."
    )
    pause.add_argument("dag_id", help="The DAG to pause.")
    unpause = add_command(
        group, "unpause", _DAGS + "_unpause", "Unpause a DAG: the scheduler resumes its runs."
    )
    unpause.add_argument("dag_id", help="The DAG to unpause.")

    runs = add_command(
        group, "list-runs", _LISTS + "_list_runs", "List the runs of a DAG, newest first.", user_code=False
    )
    runs.add_argument("dag_id", help="The DAG whose runs to list.")
    runs.add_argument("--state", choices=RUN_STATES, help="Only runs in this state.")
    runs.add_argument(
        "--limit", type=positive_int, default=25, metavar="N", help="Most runs to show (default 25)."
    )
    add_output_option(runs)

    errors = add_command(
        group,
        "list-import-errors",
        _LISTS + "_list_import_errors",
        "List DAG files that failed to import (exit code 1 when there are any, or when nothing "
        "has been parsed yet).",
        user_code=False,
    )
    add_output_option(errors)

    _register_test(group)
    _register_backfill(group)
    state = add_command(
        group, "state", "windvane.cli.state_commands:_dag_state", "Print the state of a DAG run (one word)."
    )
    state.add_argument("dag_id", help="The DAG.")
    state.add_argument("run", metavar="RUN_ID_OR_LOGICAL_DATE", help=RUN_HELP)
    _register_check(group)
    _register_operations(group)


_TEST = """\
Import the DAG's file in this process and run every task once, one at a time,
in dependency order: no scheduler, no executor, nothing written to the metadata
database (XComs are kept in memory). Retries run again at once. Prints each
task's final state, tries, duration and error; exit code 1 if the run failed.

The file is the one the DAG processor stored for the DAG, or else the first
file of the DAGs folder that defines it. The run's data interval is the one
'dags trigger' gives a run at the same logical date: for a periodic schedule,
the last interval complete at that date."""


def _register_test(group: Subparsers) -> None:
    command = add_command(
        group,
        "test",
        "windvane.cli.dag_test_command:_test",
        "Run one DAG run in this process, for debugging.",
        _TEST,
    )
    command.add_argument("dag_id", help="The DAG to run.")
    command.add_argument("logical_date", nargs="?", type=date_text, help=_LOGICAL_DATE_HELP)
    command.add_argument("-c", "--conf", type=json_object, help="Run configuration, a JSON object.")
    add_output_option(command)


_BACKFILL = """\
Queue a backfill run for every scheduled interval whose logical date lies
between START and END (inclusive), then run just those runs here, with the
configured executor and a progress bar, until all have finished. Intervals
that already have a run are left alone (failed ones are run again with
--rerun-failed); backfill runs an interrupted backfill left unfinished are
resumed. The DAG must be unpaused. Exit code 1 if any run failed.
Dates without an offset are in core.default_timezone.

Try --dry-run first: it lists the runs and changes nothing. Above
cli.backfill_confirm_above runs (default 100) a backfill started from a
terminal asks before queueing anything; --yes answers for you."""


def _register_backfill(group: Subparsers) -> None:
    command = add_command(
        group,
        "backfill",
        "windvane.cli.backfill:_backfill",
        "Run a DAG for every scheduled interval between two dates.",
        _BACKFILL,
    )
    command.add_argument("dag_id", help="The DAG to backfill.")
    command.add_argument(
        "-s",
        "--start-date",
        required=True,
        type=date_text,
        metavar="START",
        help="First logical date (ISO 8601).",
    )
    command.add_argument(
        "-e", "--end-date", required=True, type=date_text, metavar="END", help="Last logical date (ISO 8601)."
    )
    command.add_argument(
        "--rerun-failed", action="store_true", help="Run failed runs in the range again (their failed tasks)."
    )
    command.add_argument(
        "--max-active-runs",
        type=positive_int,
        metavar="N",
        help="Most backfill runs at once (default: the DAG's max_active_runs).",
    )
    command.add_argument(
        "--dry-run", action="store_true", help="Show the runs that would run; change nothing."
    )
    command.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="Do not ask, however many runs (see cli.backfill_confirm_above).",
    )


_CHECK = """\
The DAG integrity checks without pytest and without a database.

The same checks as the pytest plugin (windvane.testing.integrity, one
function per check, shared): every file is parsed once in its own process,
with the parse timeout and the top-level access guards. Exit code 1 when any
check fails (or a baseline entry no longer fails), 0 otherwise. --format
json|junit for CI systems that do not run pytest; --write-baseline FILE
records today's failures so a messy repository can adopt the checks and
ratchet down."""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _tags(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _register_check(group: Subparsers) -> None:
    check = add_command(
        group,
        "check",
        "windvane.cli.dag_check:_check",
        "Check every DAG file: imports, cycles, task ids, schedules, top-level I/O (exit 1 on failure).",
        description=_CHECK,
    )
    check.add_argument("folder", nargs="?", type=Path, help="DAG folder (default: core.dags_folder).")
    check.add_argument("--format", choices=["text", "json", "junit"], default="text", help="Report format.")
    check.add_argument("--output-file", type=Path, metavar="FILE", help="Write the report here, not stdout.")
    check.add_argument("--baseline", type=Path, metavar="FILE", help="Checks known to fail, with reasons.")
    check.add_argument(
        "--write-baseline", type=Path, metavar="FILE", help="Write a baseline of today's failures and exit 0."
    )
    check.add_argument(
        "--parse-timeout", type=_positive_float, metavar="S", help="Seconds per file (default: processor's)."
    )
    check.add_argument("--parse-budget", type=_positive_float, default=5.0, metavar="S", help="Default 5.")
    check.add_argument("--parse-processes", type=positive_int, metavar="N", help="Default: CPU count.")
    check.add_argument("--require-owner", action="store_true", help="Every task needs an owner.")
    check.add_argument("--min-retries", type=int, default=0, metavar="N", help="Every task retries >= N.")
    check.add_argument(
        "--required-tags", type=_tags, default=(), metavar="A,B", help="Tags every DAG carries."
    )
    check.add_argument("--allowed-tags", type=_tags, default=(), metavar="A,B", help="The only tags allowed.")
    check.add_argument(
        "--secret-env", action="append", default=[], metavar="REGEX", help="More secret env key patterns."
    )


_DELETE = """\
Delete everything the database holds about a DAG, in one transaction: its
runs, task instances, XComs, state-journal entries, the rows plug-ins keep
about it (every table with a dag_id column: alert outbox, silences, SLA
misses) and the DAG itself. Task log files on disk are left alone. If the
DAG's file is still in the DAGs folder, the DAG processor registers the DAG
again (with no history) on its next pass: remove or rename the file first to
be rid of it. Asks on a terminal; elsewhere it needs --yes."""


def _register_operations(group: Subparsers) -> None:
    delete = add_command(
        group, "delete", _OPS + "delete_command", "Delete a DAG with its runs and history.", _DELETE
    )
    delete.add_argument("dag_id", help="The DAG to delete.")
    delete.add_argument("-y", "--yes", action="store_true", help="Do not ask for confirmation.")

    nxt = add_command(
        group,
        "next-execution",
        _OPS + "next_execution",
        "Print the logical dates of a DAG's next scheduled runs.",
    )
    nxt.add_argument("dag_id", help="The DAG.")
    nxt.add_argument(
        "-n",
        "--num-executions",
        type=positive_int,
        default=1,
        metavar="N",
        help="How many upcoming logical dates to print (default 1).",
    )

    report = add_command(
        group,
        "report",
        _OPS + "report",
        "Show each DAG file's last parse: duration, DAGs, tasks, errors (the DAG processor's stats).",
    )
    add_output_option(report)
