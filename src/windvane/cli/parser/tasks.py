"""``windvane tasks ...``: the arguments of every task command (handlers in :mod:`windvane.cli.tasks`,
:mod:`~windvane.cli.task_exec`, :mod:`~windvane.cli.state_commands` and :mod:`~windvane.cli.tasks_why`)."""

from __future__ import annotations

from windvane.cli.args import date_text, json_object, positive_int, regex
from windvane.cli.base import Subparsers, add_command, add_group, add_output_option
from windvane.cli.parser.dags import RUN_HELP

_TASKS = "windvane.cli.tasks:"

_TEST = """\
Run one task of a DAG in this process, ignoring its dependencies: the DAG file
is imported here, templates are rendered, the task executes once (no retries)
and its outcome and XComs are printed. Nothing is written to the database;
XComs the task pulls are read from the run manual__<logical date> if the
database has it. Exit code 1 if the task failed."""

_RUN = """\
Run one try of an existing task instance now, the way an executor's worker does:

  1. a 'task_runner' job is registered and the task instance is queued for it
     (its try number goes up by one);
  2. the worker path claims the try (queued -> running), imports the DAG file
     and runs the task in a forked child that logs to
     <logs>/dag_id=<d>/run_id=<r>/task_id=<t>/attempt=<n>.log, with heartbeats;
  3. the final state, XComs and branch skips are written in one transaction.

Its dependencies are not checked. A queued or running task instance is refused;
a finished one needs --force. A scheduler driving the run picks the new state up
on its next look at the run. Exit code 1 unless the try succeeded or was skipped."""

_WHY = """\
Explain why a task instance is not running: every reason that holds it back now, as the
scheduler decides (upstream tasks and their states, the trigger rule, depends_on_past, a
paused DAG, max_active_runs / max_active_tasks / max_active_tis_per_dag, pool slots and the
task instances holding them, a retry's wait, a scheduler that stopped heartbeating), or that
it is ready, queued, running or finished. --json prints the same answer for tools. Exit 0
with an answer, 1 for an unknown DAG, task or run."""


def register(commands: Subparsers) -> None:
    group = add_group(commands, "tasks", "List, test, run, clear and inspect tasks.")

    listing = add_command(
        group, "list", "windvane.cli.dag_lists:_tasks_list", "List the tasks of a DAG.", user_code=False
    )
    listing.add_argument("dag_id", help="The DAG whose tasks to list.")
    listing.add_argument("--tree", action="store_true", help="Show the tasks as a dependency tree.")
    add_output_option(listing)

    test = add_command(
        group, "test", "windvane.cli.task_exec:run_task_test",
        "Run one task in this process, ignoring dependencies.", _TEST,
    )  # fmt: skip
    test.add_argument("dag_id", help="The DAG of the task.")
    test.add_argument("task_id", help="The task to run.")
    test.add_argument(
        "logical_date",
        nargs="?",
        type=date_text,
        help="Logical date (ISO 8601; default now; no offset means core.default_timezone).",
    )
    test.add_argument("-c", "--conf", type=json_object, help="Run configuration, a JSON object.")

    render = add_command(
        group,
        "render",
        "windvane.cli.task_render:render_task",
        "Print a task's templated fields rendered for a run (secrets masked).",
    )
    render.add_argument("dag_id", help="The DAG.")
    render.add_argument("task_id", help="The task whose templated fields to render.")
    render.add_argument(
        "logical_date",
        nargs="?",
        type=date_text,
        help="Logical date of the run (ISO 8601; default now; no offset means core.default_timezone).",
    )

    run = add_command(
        group, "run", "windvane.cli.task_exec:run_task",
        "Run one task instance of a DAG run now, as a worker would.", _RUN,
    )  # fmt: skip
    run.add_argument("dag_id", help="The DAG of the task.")
    run.add_argument("task_id", help="The task to run.")
    run.add_argument("run_id", help="The DAG run the task instance belongs to.")
    run.add_argument("--force", action="store_true", help="Run it even if it already finished.")

    state = add_command(
        group,
        "state",
        "windvane.cli.state_commands:_task_state",
        "Print the state of a task instance (one word).",
    )
    state.add_argument("dag_id", help="The DAG.")
    state.add_argument("task_id", help="The task.")
    state.add_argument("run", metavar="RUN_ID_OR_LOGICAL_DATE", help=RUN_HELP)

    why = add_command(
        group, "why", "windvane.cli.tasks_why:explain_command",
        "Explain why a task instance is not running.", _WHY,
    )  # fmt: skip
    why.add_argument("dag_id", help="The DAG.")
    why.add_argument("task_id", help="The task.")
    why.add_argument("run_id", help="The run.")
    why.add_argument("--json", action="store_true", help="Print the answer as JSON.")

    clear = add_command(
        group, "clear", _TASKS + "_clear", "Clear task instances so that the scheduler runs them again.",
        "Reset finished task instances (not running or queued ones) to run again, with their\n"
        "retries restored and their XComs removed; their runs go back to queued.\n"
        "Without --run-id or dates every run of the DAG is cleared.",
    )  # fmt: skip
    clear.add_argument("dag_id", help="The DAG whose task instances to clear.")
    clear.add_argument(
        "-t", "--task-regex", type=regex, help="Only tasks whose id matches this regex (search)."
    )
    clear.add_argument("-d", "--downstream", action="store_true", help="Also clear the tasks downstream.")
    clear.add_argument("-r", "--run-id", help="Only this run.")
    clear.add_argument(
        "-s", "--start-date", type=date_text, help="Only runs with this logical date or later."
    )
    clear.add_argument(
        "-e", "--end-date", type=date_text, help="Only runs with this logical date or earlier."
    )
    clear.add_argument("-y", "--yes", action="store_true", help="Do not ask for confirmation.")

    states = add_command(
        group,
        "states-for-dag-run",
        _TASKS + "_states_for_dag_run",
        "Show the state of every task instance of a run.",
    )
    states.add_argument("dag_id", help="The DAG of the run.")
    states.add_argument("run_id", help="The run.")
    add_output_option(states)

    logs = add_command(
        group, "logs", _TASKS + "_logs", "Print the log of a task instance's try (the latest by default)."
    )
    logs.add_argument("dag_id", help="The DAG of the task.")
    logs.add_argument("task_id", help="The task.")
    logs.add_argument("run_id", help="The run.")
    logs.add_argument(
        "--try", dest="try_number", type=positive_int, metavar="N", help="Which try (default: the latest)."
    )
