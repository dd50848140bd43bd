"""``windvane dags state`` and ``windvane tasks state``: one word, for scripts (Airflow's commands).

A run is named by its run id or, as Airflow's ``execution_date_or_run_id``
allows, by its logical date (ISO 8601; no offset means core.default_timezone).
The state goes to stdout alone (``success``, ``failed``, ``none``...); an
unknown DAG, run or task is an error naming it (exit 1).
"""

from __future__ import annotations

import argparse

from sqlalchemy import Connection, select

from windvane.cli.args import date_text, to_datetime
from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.views import load_serialized, task_instances_of_run
from windvane.cli.wiring import open_engine
from windvane.core.store.dag_runs import get_dag_run
from windvane.core.store.engine import begin_read
from windvane.core.store.rows import DagRunRow
from windvane.core.store.tables import dag_run as run_t
from windvane.errors import NotFoundError


def _dag_state(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        run = find_run(conn, args.dag_id, args.run, cli.settings.core.default_timezone)
    cli.out.line(run.state)
    return EXIT_OK


def _task_state(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        if args.task_id not in load_serialized(conn, args.dag_id).tasks:
            raise NotFoundError(f"task {args.task_id!r} not found in DAG {args.dag_id!r}")
        run = find_run(conn, args.dag_id, args.run, cli.settings.core.default_timezone)
        states = [ti.state for ti in task_instances_of_run(conn, run.id) if ti.task_id == args.task_id]
    if not states:
        raise NotFoundError(f"task {args.task_id!r} has no task instance in run {run.run_id!r}")
    cli.out.line(states[0] if len(states) == 1 else ",".join(states))  # a mapped task: one per index
    return EXIT_OK


def find_run(conn: Connection, dag_id: str, run: str, tz: str) -> DagRunRow:
    """The run of ``dag_id`` whose run id is ``run``, else whose logical date ``run`` is."""
    load_serialized(conn, dag_id)  # an unknown DAG is named as such, not as an unknown run
    try:
        return get_dag_run(conn, dag_id, run)
    except NotFoundError:
        try:
            logical = to_datetime(date_text(run), tz).in_timezone("UTC")
        except argparse.ArgumentTypeError:  # neither a run id nor a date
            raise NotFoundError(f"DAG run {run!r} of DAG {dag_id!r} does not exist") from None
    stmt = select(run_t.c.run_id).where(run_t.c.dag_id == dag_id, run_t.c.logical_date == logical)
    run_id = conn.execute(stmt).scalar()
    if run_id is None:
        raise NotFoundError(f"DAG {dag_id!r} has no run with run id or logical date {run!r}")
    return get_dag_run(conn, dag_id, run_id)
