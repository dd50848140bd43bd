"""``windvane db | pools | config ...``: the arguments of the administration commands (handlers in
:mod:`windvane.cli.db`, :mod:`~windvane.cli.pools` and :mod:`~windvane.cli.config`)."""

from __future__ import annotations

from windvane.cli.args import days, non_negative_int
from windvane.cli.base import Subparsers, add_command, add_group, add_output_option

#: ``windvane.core.store.pools.DEFAULT_POOL`` (a test keeps them equal).
DEFAULT_POOL = "default_pool"

CLEAN_DESCRIPTION = """\
Delete the history older than DAYS days (fractions allowed), in one transaction:
finished DAG runs (success, failed) that ended before the cutoff, with their
task instances and XComs, and state-journal entries recorded before it; then
the task-log folders of the deleted runs. Runs still queued or running are
never touched. Journal entries a registered consumer (alert dispatch...) has
not read yet are kept whatever their age, so a consumer that was down loses
nothing. Plug-ins clean their own rows through the entry-point group
windvane.cleaners (the alerting plug-in: delivered or dropped outbox rows,
ended silences, SLA misses of deleted runs; pending alerts stay).

Run it with --dry-run first: that counts what would go and deletes nothing."""


def register_db(commands: Subparsers) -> None:
    group = add_group(commands, "db", "Create, upgrade, check or reset the metadata database.")
    db = "windvane.cli.db:"
    add_command(
        group,
        "migrate",
        db + "_migrate",
        "Create the schema or upgrade it to the newest revision (safe to run again).",
    )
    reset = add_command(
        group,
        "reset",
        db + "_reset",
        "Drop all Windvane tables (ALL DATA IS LOST), then create the schema again.",
        "Drop all Windvane tables (all DAG runs, task instances, XComs, pools are lost) and\n"
        "create the schema again. Asks for confirmation on a terminal; elsewhere it needs --yes.",
    )
    reset.add_argument("-y", "--yes", action="store_true", help="Do not ask for confirmation.")
    add_command(
        group,
        "check",
        db + "_check",
        "Tell whether the database can be reached (exit code 1 when it cannot).",
    )
    migrations = add_command(
        group,
        "check-migrations",
        db + "_check_migrations",
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
        group,
        "clean",
        "windvane.cli.db_clean:clean",
        "Delete finished runs (task instances, XComs, logs) and journal entries older than DAYS.",
        CLEAN_DESCRIPTION,
    )
    clean.add_argument(
        "--older-than",
        type=days,
        required=True,
        metavar="DAYS",
        help="Delete what is older than this many days (fractions allowed).",
    )
    clean.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")


def register_pools(commands: Subparsers) -> None:
    group = add_group(commands, "pools", "List, create, resize and delete pools.")
    pools = "windvane.cli.pools:"

    listing = add_command(group, "list", pools + "_list", "List the pools with their slots and descriptions.")
    add_output_option(listing)

    setter = add_command(group, "set", pools + "_set", "Create a pool or change its slots and description.")
    setter.add_argument("name", help="The pool's name.")
    setter.add_argument("slots", type=non_negative_int, help="How many slots it has (0 stops its tasks).")
    setter.add_argument("--description", help="What the pool is for.")

    delete = add_command(
        group, "delete", pools + "_delete", f"Delete a pool ({DEFAULT_POOL} cannot be deleted)."
    )
    delete.add_argument("name", help="The pool to delete.")


def register_config(commands: Subparsers) -> None:
    group = add_group(commands, "config", "Show the configuration in effect.")
    config = "windvane.cli.config:"

    listing = add_command(
        group, "list", config + "_list",
        "List every setting with its value and source (default, file, env, override).",
        "List every setting with its value and where it came from. Secrets (keys named\n"
        "like password/secret/token, and passwords in URLs) are shown as ***.",
    )  # fmt: skip
    listing.add_argument("--section", help="Only this section, e.g. scheduler.")
    add_output_option(listing)

    getter = add_command(
        group, "get", config + "_get", "Print one setting's value (secrets masked unless --reveal)."
    )
    getter.add_argument("key", metavar="SECTION.KEY", help="The setting, e.g. core.parallelism.")
    getter.add_argument("--reveal", action="store_true", help="Print secrets as they are.")
