"""``windvane dags show | trigger | pause | unpause``: what they do.

Their arguments are in :mod:`windvane.cli.parser.dags`; the other ``dags`` commands live in
:mod:`~windvane.cli.dag_lists` (the listings, which start without SQLAlchemy),
:mod:`~windvane.cli.dag_test_command`, :mod:`~windvane.cli.backfill`, :mod:`~windvane.cli.dag_check`,
:mod:`~windvane.cli.state_commands` and :mod:`~windvane.cli.dag_ops`.
"""

from __future__ import annotations

import argparse

import pendulum

from windvane.cli.args import to_datetime
from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.views import load_serialized
from windvane.cli.wiring import open_engine
from windvane.core.store.dags import set_paused
from windvane.core.store.engine import begin_read, begin_write


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
