"""``windvane connections add | list | get | delete | test | import | export``.

Connections are stored in the metadata DB (password and extra encrypted with ``[core]
fernet_key``); ``get`` and ``test`` read through every configured secrets backend, so a
``WINDVANE_CONN_<ID>`` connection is found too. Passwords are shown as ``***`` unless
``--show-secrets`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, UsageError
from windvane.cli.connection_check import check_connection
from windvane.cli.parser.secrets import CONNECTION_FIELDS as _FIELDS
from windvane.cli.secrets_files import dump_connections, read_connections
from windvane.cli.wiring import fernet_codec, open_engine, secrets_config
from windvane.core.model.connection import Connection
from windvane.core.store import secrets_sql
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.task_api import secrets
from windvane.core.task_api.masking import masker, redact
from windvane.core.worker.secrets_setup import build_resolver
from windvane.errors import ConfigError, NotFoundError

_LIST_COLUMNS = ["conn_id", "conn_type", "host", "port", "login", "schema", "description"]


def connection_from_args(args: argparse.Namespace) -> Connection:
    """The connection ``add`` describes: by ``--conn-uri``, ``--conn-json`` or fields."""
    fields = {name: getattr(args, f"conn_{name.replace('conn_', '')}") for name in _FIELDS}
    given = [
        flag for flag, value in (("--conn-uri", args.conn_uri), ("--conn-json", args.conn_json)) if value
    ]
    field_flags = [name for name, value in fields.items() if value is not None]
    if len(given) > 1 or (given and any(n != "description" for n in field_flags)):
        raise UsageError(
            "give the connection as --conn-uri, as --conn-json or as --conn-* fields, not several"
        )
    try:
        if args.conn_uri:
            conn = Connection.from_uri(args.conn_id, args.conn_uri)
        elif args.conn_json:
            conn = Connection.from_json(args.conn_id, args.conn_json)
        else:
            if fields["conn_type"] is None:
                raise UsageError("give --conn-uri, --conn-json or at least --conn-type")
            raw = {k: v for k, v in fields.items() if v is not None}
            if "port" in raw:
                try:
                    raw["port"] = int(raw["port"])
                except ValueError:
                    raise UsageError(f"--conn-port {raw['port']!r} is not a number") from None
            conn = Connection(conn_id=args.conn_id, **raw)
        if conn.extra:
            conn.extra_dejson  # noqa: B018 (checks that extra is a JSON object)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if fields["description"] is not None and (args.conn_uri or args.conn_json):
        conn = Connection(**{**conn.__dict__, "description": fields["description"]})
    return conn


def _add(cli: Cli, args: argparse.Namespace) -> int:
    conn = connection_from_args(args)
    codec = fernet_codec(cli.settings)
    with open_engine(cli.settings) as engine, begin_write(engine) as db:
        secrets_sql.put_connection(dbapi_tx(db), codec, conn)
    cli.out.line(f"Connection {conn.conn_id} added ({conn.conn_type}).")
    return EXIT_OK


def _list(cli: Cli, args: argparse.Namespace) -> int:
    codec = fernet_codec(cli.settings)
    with open_engine(cli.settings) as engine, begin_read(engine) as db:
        found = secrets_sql.list_connections(dbapi_tx(db), codec, strict=False)  # shows no secret
    rows = [{c: getattr(conn, c) for c in _LIST_COLUMNS} for conn in found]
    cli.out.rows(rows, _LIST_COLUMNS, fmt=args.output, empty="No connections.")
    return EXIT_OK


def _get(cli: Cli, args: argparse.Namespace) -> int:
    source, conn = _resolve(cli, args.conn_id)
    shown = conn if args.show_secrets else conn.redacted()
    row: dict[str, Any] = {"conn_id": conn.conn_id, "source": source}
    row.update({name: getattr(shown, name) for name in _FIELDS})
    row["uri"] = shown.get_uri().replace("%2A%2A%2A", "***")
    if not args.show_secrets:  # the values of sensitive-named extra keys too
        secrets.register_connection(conn)
        row = {k: redact(v) if isinstance(v, str) else v for k, v in row.items()}
    if args.output == "json":
        cli.out.json(row)
    else:
        cli.out.rows([{"field": k, "value": v} for k, v in row.items()], ["field", "value"], fmt=args.output)
    return EXIT_OK


def _delete(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_write(engine) as db:
        secrets_sql.delete_connection(dbapi_tx(db), args.conn_id)
    cli.out.line(f"Connection {args.conn_id} deleted.")
    return EXIT_OK


def _test(cli: Cli, args: argparse.Namespace) -> int:
    _source, conn = _resolve(cli, args.conn_id)
    secrets.register_connection(conn)
    ok, message = check_connection(conn)
    message = redact(message)  # a driver's error may quote the URL with its password
    if ok:
        cli.out.line(f"Connection {conn.conn_id}: ok ({message})")
        return EXIT_OK
    cli.out.line(f"Connection {conn.conn_id}: failed: {message}")
    return EXIT_FAILURE


def _import(cli: Cli, args: argparse.Namespace) -> int:
    conns = read_connections(args.file)
    codec = fernet_codec(cli.settings)
    with open_engine(cli.settings) as engine, begin_write(engine) as db:
        tx = dbapi_tx(db)
        for conn in conns:
            secrets_sql.put_connection(tx, codec, conn, replace=args.overwrite)
    cli.out.line(f"Imported {len(conns)} connection(s) from {args.file}.")
    return EXIT_OK


def _export(cli: Cli, args: argparse.Namespace) -> int:
    codec = fernet_codec(cli.settings)
    with open_engine(cli.settings) as engine, begin_read(engine) as db:
        found = secrets_sql.list_connections(dbapi_tx(db), codec)
    fmt = args.format or _format_of(args.file)
    left_out = not args.show_secrets and any(c.password or _sensitive_extra(c) for c in found)
    if not args.show_secrets:
        found = [_without_secrets(c) for c in found]
    text = dump_connections(found, fmt)
    if args.file == "-":
        cli.out.stdout.write(text)
        cli.out.stdout.flush()
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        os.chmod(args.file, 0o600)
        cli.out.line(f"Exported {len(found)} connection(s) to {args.file}.")
    if left_out:
        cli.out.note("Passwords and sensitive extra fields were left out (--show-secrets includes them).")
    return EXIT_OK


def _sensitive_extra(conn: Connection) -> list[str]:
    try:
        extra = conn.extra_dejson
    except ConfigError:
        return []
    return [key for key in extra if masker().is_sensitive_name(key)]


def _without_secrets(conn: Connection) -> Connection:
    """``conn`` without its password and the sensitive-named keys of its extra."""
    hidden = _sensitive_extra(conn)
    extra = conn.extra
    if hidden:
        extra = json.dumps({k: v for k, v in conn.extra_dejson.items() if k not in hidden})
    return Connection(**{**conn.__dict__, "password": None, "extra": extra})


def _format_of(file: str) -> str:
    suffix = Path(file).suffix.lower()
    return {".yaml": "yaml", ".yml": "yaml", ".env": "env"}.get(suffix, "json")


def _resolve(cli: Cli, conn_id: str) -> tuple[str, Connection]:
    """``(backend name, connection)`` from the first configured backend that has ``conn_id``."""
    chain = build_resolver(secrets_config(cli.settings, os.environ))
    for name, backend in chain.backends:
        found = backend.get_connection(conn_id)
        if found is not None:
            return name, found
    raise NotFoundError(f"connection {conn_id!r} does not exist")
