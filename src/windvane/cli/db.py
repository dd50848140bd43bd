"""``windvane db migrate | reset | check | check-migrations``: the metadata database.

As in Airflow, ``db check`` asks whether the database can be reached and
``db check-migrations`` whether its schema is at the newest revision. The
arguments are in :mod:`windvane.cli.parser.admin`; ``db clean`` is :mod:`.db_clean`.
"""

from __future__ import annotations

import argparse
import time

from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, confirm
from windvane.cli.wiring import database_url, open_engine
from windvane.core.store import migrate as schema
from windvane.core.store.engine import ping


def _migrate(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings, require_schema=False) as engine:
        schema.migrate(engine, default_pool_slots=cli.settings.core.default_pool_slots)
        status = schema.check(engine)
    cli.out.line(f"Database {database_url(cli.settings)} is at revision {status.current}.")
    return EXIT_OK


def _reset(cli: Cli, args: argparse.Namespace) -> int:
    url = database_url(cli.settings)
    question = f"Drop every Windvane table in {url} and create them again? All data is lost."
    if not confirm(question, yes=args.yes, what=f"reset the database {url}"):
        cli.out.note("Aborted: the database was not changed.")
        return EXIT_FAILURE
    with open_engine(cli.settings, require_schema=False) as engine:
        schema.reset(engine, default_pool_slots=cli.settings.core.default_pool_slots)
        status = schema.check(engine)
    cli.out.line(f"Database {url} was reset; it is at revision {status.current}.")
    return EXIT_OK


def _check(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings, require_schema=False) as engine:
        server = ping(engine)  # a StoreError naming the database and the reason: exit code 1
    cli.out.line(f"Database {database_url(cli.settings)} is reachable ({server}).")
    return EXIT_OK


def _check_migrations(cli: Cli, args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.migration_wait_timeout
    with open_engine(cli.settings, require_schema=False) as engine:
        status = schema.check(engine)
        while not status.is_current and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            status = schema.check(engine)
    url = database_url(cli.settings)
    if status.is_current:
        cli.out.line(f"Database {url} is current (revision {status.head}).")
        return EXIT_OK
    found = "empty (no schema)" if status.current is None else f"at revision {status.current}"
    cli.out.line(
        f"Database {url} is {found}; the newest revision is {status.head}: run 'windvane db migrate'."
    )
    return EXIT_FAILURE
