"""``windvane api-server`` and ``windvane users create | list | delete | reset-password``."""

from __future__ import annotations

import argparse
import getpass

import pendulum

from windvane.api.config import from_settings
from windvane.api.server import serve
from windvane.api.users import Role, create_user, delete_user, find_user, list_users, reset_password
from windvane.cli.base import EXIT_OK, Cli, UsageError
from windvane.cli.logs import configure_logging
from windvane.cli.wiring import open_engine
from windvane.core.store.engine import begin_read, begin_write


def _api_server(cli: Cli, args: argparse.Namespace) -> int:
    configure_logging(cli.settings, verbose=cli.verbose)
    host = args.host or cli.settings.api.host
    port = args.port or cli.settings.api.port
    with open_engine(cli.settings) as engine:
        workers = cli.settings.api.workers
        each = f", {workers} worker processes" if workers > 1 else ""
        cli.out.line(f"Windvane API on http://{host}:{port}/api/v1 (docs: /api/v1/docs{each})")
        return serve(engine, from_settings(cli.settings), host=host, port=port, workers=workers)


def _password(given: str | None) -> str:
    if given is not None:
        return given
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise UsageError("the passwords differ")
    return first


def _create(cli: Cli, args: argparse.Namespace) -> int:
    password = _password(args.password)
    with open_engine(cli.settings) as engine, begin_write(engine) as conn:
        if args.exists_ok and find_user(conn, args.username) is not None:
            cli.out.line(f"User {args.username} exists.")
            return EXIT_OK
        user = create_user(conn, args.username, password, Role(args.role), now=pendulum.now("UTC"))
    cli.out.line(f"User {user.username} created ({user.role}).")
    return EXIT_OK


def _list(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        found = list_users(conn)
    rows = [{"username": u.username, "role": u.role.value, "created_at": u.created_at,
             "last_login_at": u.last_login_at} for u in found]  # fmt: skip
    cli.out.rows(
        rows, ["username", "role", "created_at", "last_login_at"], fmt=args.output, empty="No users."
    )
    return EXIT_OK


def _delete(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_write(engine) as conn:
        delete_user(conn, args.username)
    cli.out.line(f"User {args.username} deleted.")
    return EXIT_OK


def _reset(cli: Cli, args: argparse.Namespace) -> int:
    password = _password(args.password)
    with open_engine(cli.settings) as engine, begin_write(engine) as conn:
        reset_password(conn, args.username, password)
    cli.out.line(f"Password of {args.username} changed; its browser sessions have ended.")
    return EXIT_OK
