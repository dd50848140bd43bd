"""``windvane api-server`` and ``windvane users ...``: their arguments (handlers in
:mod:`windvane.cli.api_server`; the API and its dependencies are imported only when one runs)."""

from __future__ import annotations

from windvane.cli.args import port_number
from windvane.cli.base import Subparsers, add_command, add_group, add_output_option

_API = "windvane.cli.api_server:"
#: the roles of :class:`windvane.api.users.Role` (a test keeps the two the same)
ROLES = ("viewer", "operator", "admin")

_SERVER = """\
Serve the REST API (/api/v1, docs at /api/v1/docs) with uvicorn. It listens on [api] host
(127.0.0.1 unless configured) and port; every endpoint but /api/v1/health needs a login or an
API token (create the first admin with 'windvane users create --role admin')."""


def register(commands: Subparsers) -> None:
    server = add_command(commands, "api-server", _API + "_api_server", "Serve the REST API.", _SERVER)
    server.add_argument("--host", help="Address to listen on (default [api] host).")
    server.add_argument("--port", type=port_number, help="Port to listen on (default [api] port).")

    group = add_group(commands, "users", "Create, list, delete API users and reset their passwords.")
    create = add_command(group, "create", _API + "_create", "Create a user of the API and the UI.")
    create.add_argument("--username", required=True, help="The login name.")
    create.add_argument(
        "--role",
        choices=ROLES,
        default="viewer",
        help="viewer (read), operator (also trigger/clear/mark/pause), admin (all).",
    )
    create.add_argument("--password", help="The password (default: asked twice on the terminal).")
    create.add_argument("--exists-ok", action="store_true", help="Succeed quietly when the user exists.")
    listing = add_command(group, "list", _API + "_list", "List the users with their roles.")
    add_output_option(listing)
    delete = add_command(group, "delete", _API + "_delete", "Delete a user and its API tokens.")
    delete.add_argument("--username", required=True, help="The user to delete.")
    reset = add_command(
        group, "reset-password", _API + "_reset", "Set a user's password (ends its sessions)."
    )
    reset.add_argument("--username", required=True, help="The user.")
    reset.add_argument("--password", help="The new password (default: asked twice on the terminal).")
