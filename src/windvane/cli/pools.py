"""``windvane pools list | set | delete``: slot budgets shared by task instances."""

from __future__ import annotations

import argparse

from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.wiring import open_engine
from windvane.core.store import pools
from windvane.core.store.engine import begin_read, begin_write


def _list(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        found = pools.list_pools(conn)
    rows = [{"name": p.name, "slots": p.slots, "description": p.description} for p in found]
    cli.out.rows(rows, ["name", "slots", "description"], fmt=args.output, empty="No pools.")
    return EXIT_OK


def _set(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_write(engine) as conn:
        pool = pools.set_pool(conn, args.name, args.slots, args.description)
    cli.out.line(f"Pool {pool.name} has {pool.slots} slot(s).")
    return EXIT_OK


def _delete(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_write(engine) as conn:
        pools.delete_pool(conn, args.name)
    cli.out.line(f"Pool {args.name} deleted.")
    return EXIT_OK
