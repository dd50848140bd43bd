"""``windvane variables set | get | list | delete | import | export`` and ``windvane rotate-fernet-key``.

Variables are stored in the metadata DB (values encrypted with ``[core] fernet_key``); ``get``
reads through every configured secrets backend, so ``WINDVANE_VAR_<KEY>`` is found too. The
value of a variable marked ``--sensitive``, or whose key is sensitive-named (``*password*``,
``*secret*``, ``*token*``, ...), is shown as ``***`` unless ``--show-secrets`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from windvane.cli.base import EXIT_OK, Cli, UsageError
from windvane.cli.secrets_files import dump_variables, read_mapping
from windvane.cli.wiring import fernet_codec, open_engine, secrets_config
from windvane.core.store import secrets_sql
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.task_api.masking import MASK, masker
from windvane.core.worker.secrets_setup import build_resolver
from windvane.errors import ConfigError, NotFoundError, VariableNotFoundError

_COLUMNS = ["key", "value", "description", "sensitive", "encrypted"]


def _set(cli: Cli, args: argparse.Namespace) -> int:
    value = args.value
    if args.json:
        try:
            json.loads(value)
        except ValueError as exc:
            raise UsageError(f"--json: the value of {args.key!r} is not valid JSON: {exc}") from None
    codec = fernet_codec(cli.settings)
    with open_engine(cli.settings) as engine, begin_write(engine) as db:
        secrets_sql.set_variable(
            dbapi_tx(db), codec, args.key, value, description=args.description, sensitive=args.sensitive
        )
    cli.out.line(f"Variable {args.key} set.")
    return EXIT_OK


def _get(cli: Cli, args: argparse.Namespace) -> int:
    value, sensitive = _resolve(cli, args.key)
    if value is None:
        if args.default is None:
            raise VariableNotFoundError(f"variable {args.key!r} does not exist")
        value = args.default
    elif (sensitive or masker().is_sensitive_name(args.key)) and not args.show_secrets:
        cli.out.line(MASK)
        return EXIT_OK
    if args.json:
        try:
            value = json.dumps(json.loads(value), indent=2)
        except ValueError as exc:
            raise ConfigError(f"variable {args.key!r} is not valid JSON: {exc}") from None
    cli.out.line(value)
    return EXIT_OK


def _list(cli: Cli, args: argparse.Namespace) -> int:
    stored = _stored(cli, strict=False)
    rows = [
        {
            "key": v.key,
            "value": _shown(v, args.show_secrets) if v.error is None else "(cannot be decrypted)",
            "description": v.description,
            "sensitive": v.is_sensitive or masker().is_sensitive_name(v.key),
            "encrypted": v.is_encrypted,
        }
        for v in stored
    ]
    cli.out.rows(rows, _COLUMNS, fmt=args.output, empty="No variables.")
    for v in stored:
        if v.error is not None:
            cli.out.note(f"windvane: warning: {v.error}")
    return EXIT_OK


def _delete(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_write(engine) as db:
        if not secrets_sql.delete_variable(dbapi_tx(db), args.key):
            raise NotFoundError(f"variable {args.key!r} does not exist")
    cli.out.line(f"Variable {args.key} deleted.")
    return EXIT_OK


def _import(cli: Cli, args: argparse.Namespace) -> int:
    values = read_mapping(args.file)
    codec = fernet_codec(cli.settings)
    with open_engine(cli.settings) as engine, begin_write(engine) as db:
        tx = dbapi_tx(db)
        for key, value in values.items():
            text = value if isinstance(value, str) else json.dumps(value, indent=2)
            secrets_sql.set_variable(tx, codec, key, text, description=None, sensitive=False)
    cli.out.line(f"Imported {len(values)} variable(s) from {args.file}.")
    return EXIT_OK


def _export(cli: Cli, args: argparse.Namespace) -> int:
    stored = _stored(cli)
    suffix = Path(args.file).suffix.lower()
    fmt = args.format or {".yaml": "yaml", ".yml": "yaml", ".env": "env"}.get(suffix, "json")
    text = dump_variables({v.key: _shown(v, args.show_secrets) for v in stored}, fmt)
    if args.file == "-":
        cli.out.stdout.write(text)
        cli.out.stdout.flush()
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        os.chmod(args.file, 0o600)
        cli.out.line(f"Exported {len(stored)} variable(s) to {args.file}.")
    return EXIT_OK


def _rotate(cli: Cli, args: argparse.Namespace) -> int:
    codec = fernet_codec(cli.settings)
    if not codec.enabled:
        raise ConfigError("rotate-fernet-key needs [core] fernet_key (new key first, old keys after it)")
    with open_engine(cli.settings) as engine, begin_write(engine) as db:
        conns, variables = secrets_sql.rotate_all(dbapi_tx(db), codec)
    cli.out.line(f"Re-encrypted {conns} connection(s) and {variables} variable(s) with the first key.")
    return EXIT_OK


def _stored(cli: Cli, *, strict: bool = True) -> list[secrets_sql.StoredVariable]:
    codec = fernet_codec(cli.settings)
    with open_engine(cli.settings) as engine, begin_read(engine) as db:
        return secrets_sql.list_variables(dbapi_tx(db), codec, strict=strict)


def _shown(variable: secrets_sql.StoredVariable, show_secrets: bool) -> Any:
    secret = variable.is_sensitive or masker().is_sensitive_name(variable.key)
    return MASK if secret and not show_secrets and variable.value else variable.value


def _resolve(cli: Cli, key: str) -> tuple[str | None, bool]:
    """``(value, marked sensitive)`` from the first configured backend that has ``key``."""
    chain = build_resolver(secrets_config(cli.settings, os.environ))
    for name, backend in chain.backends:
        if name == "metastore":
            codec = fernet_codec(cli.settings)
            with open_engine(cli.settings) as engine, begin_read(engine) as db:
                stored = secrets_sql.get_variable(dbapi_tx(db), codec, key)
            if stored is not None:
                return stored.value, stored.is_sensitive
            continue
        value = backend.get_variable(key)
        if value is not None:
            return value, False
    return None, False
