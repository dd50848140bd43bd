"""``windvane db migrate | reset | check | clean``: the metadata database schema, and retention."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, confirm
from windvane.cli.wiring import database_url, open_engine
from windvane.core.store import journal
from windvane.core.store import migrate as schema
from windvane.core.store.engine import begin_read, begin_write


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


def _clean(cli: Cli, args: argparse.Namespace) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=args.older_than)
    when = f"recorded before {cutoff:%Y-%m-%d %H:%M:%S} UTC"
    with open_engine(cli.settings) as engine:
        if args.dry_run:
            with begin_read(engine) as conn:
                count = journal.count_prunable(conn, older_than=cutoff)
                held = journal.consumer_cursors(conn)
            cli.out.line(f"Would delete {count} journal entr{'y' if count == 1 else 'ies'} {when}.")
        else:
            with begin_write(engine) as conn:
                count = journal.prune(conn, older_than=cutoff)
                held = journal.consumer_cursors(conn)
            cli.out.line(f"Deleted {count} journal entr{'y' if count == 1 else 'ies'} {when}.")
    if held:
        slowest = min(held, key=lambda name: held[name])
        cli.out.line(f"Entries after id {held[slowest]} are kept until consumer {slowest!r} reads them.")
    return EXIT_OK
