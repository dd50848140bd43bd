"""``windvane db migrate | reset | check``: the metadata database schema (``db clean``: :mod:`.db_clean`)."""

from __future__ import annotations

import argparse

from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, confirm
from windvane.cli.wiring import database_url, open_engine
from windvane.core.store import migrate as schema


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
