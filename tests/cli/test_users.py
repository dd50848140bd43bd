"""``windvane users create | list | delete | reset-password`` and ``windvane api-server --help``."""

from __future__ import annotations

import json

from tests.cli.conftest import RunCli


def test_users_lifecycle(run_cli: RunCli) -> None:
    assert run_cli("db", "migrate").code == 0
    made = run_cli("users", "create", "--username", "alice", "--role", "admin", "--password", "long enough")
    assert made.code == 0 and "alice created (admin)" in made.out
    again = run_cli("users", "create", "--username", "alice", "--password", "long enough")
    assert again.code == 1 and "'alice' already exists" in again.err
    quiet = run_cli("users", "create", "--username", "alice", "--password", "long enough", "--exists-ok")
    assert quiet.code == 0
    short = run_cli("users", "create", "--username", "bob", "--password", "short")
    assert short.code == 1 and "8 to 1024 characters" in short.err
    listed = json.loads(run_cli("users", "list", "--output", "json").out)
    assert [(u["username"], u["role"]) for u in listed] == [("alice", "admin")]
    assert run_cli("users", "reset-password", "--username", "alice", "--password", "another one").code == 0
    assert run_cli("users", "delete", "--username", "alice").code == 0
    gone = run_cli("users", "delete", "--username", "alice")
    assert gone.code == 1 and "'alice' does not exist" in gone.err


def test_api_server_rejects_a_bad_port(run_cli: RunCli) -> None:
    result = run_cli("api-server", "--port", "70000")
    assert result.code == 2 and "1 to 65535" in result.err


def test_the_parser_offers_exactly_the_api_roles() -> None:
    from windvane.api.users import Role
    from windvane.cli.parser.api import ROLES

    assert tuple(r.value for r in Role) == ROLES
