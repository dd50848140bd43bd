"""``windvane connections ...``, ``windvane variables ...`` and ``windvane rotate-fernet-key``: their
arguments (handlers in :mod:`windvane.cli.connections` and :mod:`windvane.cli.variables`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from windvane.cli.base import Subparsers, add_command, add_group, add_output_option

_CONN = "windvane.cli.connections:"
_VAR = "windvane.cli.variables:"
#: the fields ``connections add`` takes one flag each for
CONNECTION_FIELDS = ("conn_type", "host", "port", "login", "password", "schema", "extra", "description")


def register_connections(commands: Subparsers) -> None:
    group = add_group(commands, "connections", "Add, list, show, test, import and export Connections.")

    add = add_command(
        group, "add", _CONN + "_add", "Add a connection (by URI, JSON or fields) to the metadata DB."
    )
    add.add_argument("conn_id", help="The connection's id.")
    add.add_argument("--conn-uri", help="The URI form: type://login:password@host:port/schema?extra=...")
    add.add_argument("--conn-json", help="The JSON form: an object with the field names as keys.")
    for name in CONNECTION_FIELDS:
        flag = "--conn-" + name.replace("conn_", "").replace("_", "-")
        add.add_argument(flag, dest=f"conn_{name.replace('conn_', '')}", help=f"The {name} field.")

    listing = add_command(
        group, "list", _CONN + "_list", "List the connections in the metadata DB (no passwords)."
    )
    add_output_option(listing)

    get = add_command(
        group, "get", _CONN + "_get", "Show one connection, from the first backend that has it."
    )
    get.add_argument("conn_id", help="The connection's id.")
    _show_secrets(get)
    add_output_option(get)

    delete = add_command(group, "delete", _CONN + "_delete", "Delete a connection from the metadata DB.")
    delete.add_argument("conn_id", help="The connection to delete.")

    test = add_command(
        group,
        "test",
        _CONN + "_test",
        "Open the connection: postgres/mysql/sqlite through SQLAlchemy (SELECT 1), http(s) with a GET; "
        "exit 1 with the reason when it fails.",
    )
    test.add_argument("conn_id", help="The connection to test.")

    imp = add_command(group, "import", _CONN + "_import", "Add the connections of a JSON, YAML or .env file.")
    imp.add_argument("file", type=Path, help="JSON/YAML: {conn_id: URI or object}; .env: CONN_ID=URI lines.")
    imp.add_argument("--overwrite", action="store_true", help="Replace connections that already exist.")

    exp = add_command(
        group, "export", _CONN + "_export", "Write the metadata DB's connections to a file (or -)."
    )
    exp.add_argument("file", help="The file to write, '-' for stdout.")
    exp.add_argument(
        "--format",
        choices=("json", "yaml", "env"),
        help="File format (default: from the extension, else json).",
    )
    _show_secrets(exp, what="Include passwords (left out otherwise)")


def _show_secrets(parser: argparse.ArgumentParser, what: str = "Show passwords (masked otherwise)") -> None:
    parser.add_argument("--show-secrets", action="store_true", help=f"{what}.")


def register_variables(commands: Subparsers) -> None:
    group = add_group(commands, "variables", "Set, show, list, delete, import and export Variables.")

    setter = add_command(group, "set", _VAR + "_set", "Create or replace a variable in the metadata DB.")
    setter.add_argument("key", help="The variable's key.")
    setter.add_argument("value", help="Its value (text; with --json, a JSON document).")
    setter.add_argument("--description", help="What the variable is for.")
    setter.add_argument("-j", "--json", action="store_true", help="The value must be valid JSON.")
    setter.add_argument(
        "--sensitive", action="store_true", help="Mask its value in logs and the CLI whatever its key."
    )

    getter = add_command(
        group, "get", _VAR + "_get", "Print a variable's value (from the first backend that has it)."
    )
    getter.add_argument("key", help="The variable's key.")
    getter.add_argument("-d", "--default", help="Printed when the variable does not exist (else exit 1).")
    getter.add_argument(
        "-j", "--json", action="store_true", help="Parse the value as JSON and pretty-print it."
    )
    getter.add_argument(
        "--show-secrets", action="store_true", help="Show a sensitive value (masked otherwise)."
    )

    listing = add_command(group, "list", _VAR + "_list", "List the variables of the metadata DB.")
    listing.add_argument("--show-secrets", action="store_true", help="Show sensitive values.")
    add_output_option(listing)

    delete = add_command(group, "delete", _VAR + "_delete", "Delete a variable from the metadata DB.")
    delete.add_argument("key", help="The variable to delete.")

    imp = add_command(group, "import", _VAR + "_import", "Set the variables of a JSON, YAML or .env file.")
    imp.add_argument("file", type=Path, help="JSON/YAML: {key: value}; .env: KEY=value lines.")

    exp = add_command(
        group, "export", _VAR + "_export", "Write the metadata DB's variables to a file (or -)."
    )
    exp.add_argument("file", help="The file to write, '-' for stdout.")
    exp.add_argument(
        "--format", choices=("json", "yaml", "env"), help="Default: from the extension, else json."
    )
    exp.add_argument("--show-secrets", action="store_true", help="Include sensitive values (else ***).")

    add_command(
        commands,
        "rotate-fernet-key",
        _VAR + "_rotate",
        "Re-encrypt every connection and variable with the first key of [core] fernet_key "
        "(plain-text rows are encrypted).",
    )
