"""``windvane scheduler | dag-processor | standalone``: the long-running processes' arguments
(handlers in :mod:`windvane.cli.run`)."""

from __future__ import annotations

from windvane.cli.args import positive_int
from windvane.cli.base import Subparsers, add_command

_SCHEDULER = """\
Run the scheduler: create DAG runs when they fall due, queue task instances
whose dependencies are met to the configured executor, and record how they end.
Unless --no-processor is given or dag_processor.standalone is true, the DAG
processor runs alongside it in a child process. Ctrl-C or SIGTERM stop it cleanly."""

_STANDALONE = """\
Everything on one machine, for development: migrate the database, then run the
DAG processor in a child process and the scheduler (with the configured
executor) in this one. Ctrl-C or SIGTERM stop both cleanly."""


def register(commands: Subparsers) -> None:
    run = "windvane.cli.run:"
    scheduler = add_command(commands, "scheduler", run + "_scheduler", "Run the scheduler.", _SCHEDULER)
    scheduler.add_argument(
        "--no-processor", action="store_true", help="Do not start the DAG processor (run it on its own)."
    )
    scheduler.add_argument(
        "-n",
        "--num-runs",
        type=positive_int,
        metavar="N",
        help="Stop after this many loop passes (default: run until stopped).",
    )
    processor = add_command(
        commands,
        "dag-processor",
        run + "_dag_processor",
        "Run the DAG processor: parse DAG files into the database.",
    )
    processor.add_argument(
        "-n",
        "--num-runs",
        type=positive_int,
        metavar="N",
        help="Stop after this many passes over the DAGs folder (default: run until stopped).",
    )
    add_command(
        commands,
        "standalone",
        run + "_standalone",
        "Run the DAG processor and the scheduler together.",
        _STANDALONE,
    )
