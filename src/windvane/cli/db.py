"""``windvane db migrate | reset | check | check-migrations | clean``: the metadata database, and retention.

As in Airflow, ``db check`` asks whether the database can be reached and
``db check-migrations`` whether its schema is at the newest revision.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from windvane.cli.args import days, non_negative_int
from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, Subparsers, add_command, add_group, confirm
from windvane.cli.wiring import database_url, open_engine
from windvane.core.store import journal
from windvane.core.store import migrate as schema
from windvane.core.store.engine import begin_read, begin_write, ping

CLEAN_DESCRIPTION = """\
Delete state-journal entries recorded more than DAYS days ago. Entries a
registered journal consumer (alert dispatch...) has not read yet are kept
whatever their age, so a consumer that was down loses nothing. With --dry-run
only count what would go."""


def register(commands: Subparsers) -> None:
    group = add_group(commands, "db", "Create, upgrade, check or reset the metadata database.")
    add_command(
        group,
        "migrate",
        _migrate,
        "Create the schema or upgrade it to the newest revision (safe to run again).",
    )
    reset = add_command(
        group,
        "reset",
        _reset,
        "Drop all Windvane tables (ALL DATA IS LOST), then create the schema again.",
        "Drop all Windvane tables (all DAG runs, task instances, XComs, pools are lost) and\n"
        "create the schema again. Asks for confirmation on a terminal; elsewhere it needs --yes.",
    )
    reset.add_argument("-y", "--yes", action="store_true", help="Do not ask for confirmation.")
    add_command(
        group, "check", _check, "Tell whether the database can be reached (exit code 1 when it cannot)."
    )
    migrations = add_command(
        group,
        "check-migrations",
        _check_migrations,
        "Tell whether the schema is at the newest revision (exit code 1 when it is not).",
    )
    migrations.add_argument(
        "-t",
        "--migration-wait-timeout",
        type=non_negative_int,
        default=0,
        metavar="SECONDS",
        help="Wait up to this long for another process's migration to finish (default 0: check once).",
    )
    clean = add_command(
        group, "clean", _clean, "Delete old state-journal entries every consumer has read.", CLEAN_DESCRIPTION
    )
    clean.add_argument(
        "--older-than",
        type=days,
        required=True,
        metavar="DAYS",
        help="Delete entries older than this many days (fractions allowed).",
    )
    clean.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")


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
