"""``windvane dags test``: one whole run of a DAG in this process (no scheduler, no database writes)."""

from __future__ import annotations

import argparse

from windvane.cli.args import to_datetime
from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli
from windvane.cli.dag_files import load_dag
from windvane.cli.logs import configure_logging
from windvane.cli.output import error_summary
from windvane.core.model.states import DagRunState
from windvane.core.task_api.masking import masked_stdio
from windvane.core.worker.in_process import DagRunResult, run_dag_in_process


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
