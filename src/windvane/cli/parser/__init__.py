"""The shape of the ``windvane`` command line: every command, argument, default and help text.

One module per command group; each ``register`` adds its commands to the
parser with a handler *reference* (``"windvane.cli.dags:_show"``), not the
handler, so building the parser imports only :mod:`argparse`, this package,
:mod:`windvane.cli.base` and :mod:`windvane.cli.args`. What a command does is
in the modules beside this package (``windvane.cli.dags`` ...), imported by
:func:`windvane.cli.main.main` when the command runs. This keeps ``windvane
--version`` and ``--help`` fast; ``tests/cli/test_import_time.py`` keeps it so.

May import: :mod:`windvane.cli.base`, :mod:`windvane.cli.args`, :mod:`windvane`
(its lazily loaded top level) and nothing that imports SQLAlchemy, rich or the
metrics backends.
"""

from __future__ import annotations

import argparse

from windvane import __version__
from windvane.cli.base import CliParser, add_global_options
from windvane.cli.parser import admin, alerts, api, celery, dags, ops, processes, secrets, tasks

_EPILOG = """\
Configuration comes from $WINDVANE_HOME/windvane.toml and WINDVANE__<SECTION>__<KEY>
environment variables; 'windvane config list' shows what is in effect.
Run 'windvane COMMAND --help' for a command's options."""


def build_parser() -> CliParser:
    """The full ``windvane`` argument parser."""
    parser = CliParser(
        prog="windvane",
        description="Windvane: Airflow-style workflows you can see and trust.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_global_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"windvane {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True
    admin.register_db(commands)
    dags.register(commands)
    tasks.register(commands)
    admin.register_pools(commands)
    secrets.register_connections(commands)
    secrets.register_variables(commands)
    alerts.register(commands)
    admin.register_config(commands)
    processes.register(commands)
    alerts.register_alerter(commands)
    ops.register(commands)
    api.register(commands)
    celery.register(commands)
    return parser
