"""``windvane tasks ...``: list, test, run, clear and inspect task instances."""

from __future__ import annotations

import argparse

import pendulum
from sqlalchemy import Connection, select

from windvane.cli.args import to_datetime
from windvane.cli.base import (
    EXIT_FAILURE,
    EXIT_OK,
    Cli,
    UsageError,
    confirm,
)
from windvane.cli.known_secrets import register_known_secrets
from windvane.cli.views import load_serialized, task_instances_of_run
from windvane.cli.wiring import log_folder, open_engine, remote_logs
from windvane.core.store.dag_runs import get_dag_run
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.journal_sql import JournalBatch
from windvane.core.store.run_actions import clear_task_instances
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import dag_run as run_t
from windvane.core.store.tables import task_instance as ti_t
from windvane.core.task_api.masking import redact
from windvane.errors import NotFoundError


def _clear(cli: Cli, args: argparse.Namespace) -> int:
    if args.run_id and (args.start_date or args.end_date):
        raise UsageError("argument -r/--run-id: not allowed with -s/--start-date or -e/--end-date")
    tz = cli.settings.core.default_timezone
    with open_engine(cli.settings) as engine:
        with begin_read(engine) as conn:
            dag = load_serialized(conn, args.dag_id)
            runs = _runs_to_clear(conn, args, tz)
        task_ids = None
        if args.task_regex is not None:
            task_ids = [t for t in dag.tasks if args.task_regex.search(t)]
            if not task_ids:
                raise NotFoundError(
                    f"no task of DAG {args.dag_id!r} matches -t/--task-regex {args.task_regex.pattern!r}"
                )
        if not runs:
            cli.out.line(f"No runs of DAG {args.dag_id} to clear.")
            return EXIT_OK
        which = "all tasks" if task_ids is None else "tasks " + ", ".join(task_ids)
        which += " and their downstream tasks" if args.downstream else ""
        question = f"Clear {which} in {len(runs)} run(s) of DAG {args.dag_id}?"
        if not confirm(question, yes=args.yes, what=f"clear task instances of DAG {args.dag_id!r}"):
            cli.out.note("Aborted: nothing was cleared.")
            return EXIT_FAILURE
        now = pendulum.now("UTC")
        with begin_write(engine) as conn:
            journal = JournalBatch(now)
            cleared = {
                run_id: clear_task_instances(
                    conn, dag, pk, task_ids=task_ids, downstream=args.downstream, now=now, journal=journal
                )
                for pk, run_id in runs
            }
            journal.write(dbapi_tx(conn))
    for run_id, tasks in cleared.items():
        cli.out.line(f"{run_id}: cleared {', '.join(tasks) if tasks else 'nothing'}")
    return EXIT_OK


def _runs_to_clear(conn: Connection, args: argparse.Namespace, tz: str) -> list[tuple[int, str]]:
    """(pk, run_id) of the runs to clear: ``--run-id``, or the runs in the date range with task instances."""
    if args.run_id:
        run = get_dag_run(conn, args.dag_id, args.run_id)
        return [(run.id, run.run_id)]
    has_tis = select(ti_t.c.id).where(ti_t.c.dag_run_id == run_t.c.id).exists()
    stmt = select(run_t.c.id, run_t.c.run_id).where(run_t.c.dag_id == args.dag_id, has_tis)
    if args.start_date:
        stmt = stmt.where(run_t.c.logical_date >= to_datetime(args.start_date, tz).in_timezone("UTC"))
    if args.end_date:
        stmt = stmt.where(run_t.c.logical_date <= to_datetime(args.end_date, tz).in_timezone("UTC"))
    return [(pk, run_id) for pk, run_id in conn.execute(stmt.order_by(run_t.c.logical_date))]


def _states_for_dag_run(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        run = get_dag_run(conn, args.dag_id, args.run_id)
        tis = task_instances_of_run(conn, run.id)
    rows = [
        {
            "task_id": t.task_id,
            "state": t.state,
            "try_number": t.try_number,
            "start_date": t.start_date,
            "end_date": t.end_date,
            "duration": t.duration,
            "hostname": t.hostname,
        }
        for t in tis
    ]
    columns = ["task_id", "state", "try_number", "start_date", "end_date", "duration"]
    cli.out.rows(rows, columns, fmt=args.output, empty=f"Run {args.run_id} has no task instances.")
    return EXIT_OK


def _logs(cli: Cli, args: argparse.Namespace) -> int:
    """The whole log of a try: from this machine's log folder, else from the worker that ran it."""
    from windvane.tasklogs.reader import read_try_log

    register_known_secrets(cli.settings)
    folder, remote = log_folder(cli.settings), remote_logs(cli.settings)
    out = cli.out.stdout
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        chunk = read_try_log(folder, args.dag_id, args.run_id, args.task_id, args.try_number, conn=conn,
                             remote=remote)  # fmt: skip
        cli.out.note(f"*** {chunk.source}")
        pending = ""
        while True:
            lines = (pending + chunk.content).splitlines(keepends=True)
            pending = lines.pop() if lines and not lines[-1].endswith("\n") else ""
            for line in lines:
                out.write(redact(line))
            if chunk.complete or chunk.next_offset <= chunk.offset:
                break
            chunk = read_try_log(folder, args.dag_id, args.run_id, args.task_id, chunk.try_number,
                                 offset=chunk.next_offset, conn=conn, remote=remote)  # fmt: skip
    if pending:  # a try killed mid-line: what follows starts on its own line
        out.write(redact(pending) + "\n")
    out.flush()
    return EXIT_OK
