"""``windvane connections`` and ``windvane variables``: forms, files, exit codes, and ``connections test``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from windvane.testing.database import DEFAULT_POSTGRES_SERVER_URL

from ..cli.conftest import RunCli


@pytest.fixture
def migrated(run_cli: RunCli) -> RunCli:
    assert run_cli("db", "migrate").code == 0
    return run_cli


def _get(run_cli: RunCli, conn_id: str) -> dict[str, object]:
    shown = run_cli("connections", "get", conn_id, "--show-secrets", "-o", "json")
    assert shown.code == 0, shown.err
    data: dict[str, object] = json.loads(shown.out)
    return data


def test_add_by_uri_json_or_fields(migrated: RunCli) -> None:
    run = migrated
    assert (
        run("connections", "add", "by_uri", "--conn-uri", "mysql://me:pw%2F1@h:3306/db?charset=utf8").code
        == 0
    )
    body = json.dumps({"conn_type": "http", "host": "api.local", "extra": {"timeout": 5}})
    assert (
        run("connections", "add", "by_json", "--conn-json", body, "--conn-description", "the API").code == 0
    )
    fields = ["--conn-type", "postgres", "--conn-host", "pg", "--conn-port", "5433", "--conn-login", "u"]
    assert run("connections", "add", "by_fields", *fields, "--conn-password", "pw-fields").code == 0
    uri = _get(run, "by_uri")
    assert (uri["password"], uri["port"], uri["extra"]) == ("pw/1", 3306, '{"charset": "utf8"}')
    assert _get(run, "by_json")["description"] == "the API"
    assert _get(run, "by_fields")["port"] == 5433
    listed = run("connections", "list", "-o", "json")
    assert [c["conn_id"] for c in json.loads(listed.out)] == ["by_fields", "by_json", "by_uri"]
    assert "pw-fields" not in listed.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conn-uri", "pg://h", "--conn-host", "x"], "not several"),
        ([], "give --conn-uri, --conn-json or at least --conn-type"),
        (["--conn-json", "[1]"], "JSON form must be an object"),
        (["--conn-type", "http", "--conn-port", "eighty"], "--conn-port 'eighty' is not a number"),
        (["--conn-type", "http", "--conn-extra", "{bad"], "extra is not valid JSON"),
    ],
)
def test_bad_add_lines_are_usage_errors(migrated: RunCli, args: list[str], message: str) -> None:
    result = migrated("connections", "add", "c", *args)
    assert result.code == 2 and message in result.err, result.err


def test_sensitive_extra_fields_and_configured_names_are_masked(
    migrated: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = json.dumps({"region": "eu-1", "api_key": "extra-key-123", "nested": {"client_secret": "cs-4567"}})
    assert migrated("connections", "add", "svc", "--conn-type", "http", "--conn-extra", extra).code == 0
    shown = migrated("connections", "get", "svc", "-o", "json")
    assert "extra-key-123" not in shown.out and "cs-4567" not in shown.out and "eu-1" in shown.out
    exported = migrated("connections", "export", "-")
    assert "extra-key-123" not in exported.out and "eu-1" in exported.out
    assert "extra-key-123" in migrated("connections", "get", "svc", "--show-secrets", "-o", "json").out
    assert migrated("variables", "set", "color", "blue-ish").code == 0
    assert migrated("variables", "get", "color").out == "blue-ish\n"
    monkeypatch.setenv("WINDVANE__CORE__SENSITIVE_VAR_CONN_NAMES", "colo")
    assert migrated("variables", "get", "color").out == "***\n"


def test_unknown_ids_and_keys_exit_1_naming_them(migrated: RunCli) -> None:
    for args, message in (
        (("connections", "get", "ghost"), "connection 'ghost' does not exist"),
        (("connections", "delete", "ghost"), "connection 'ghost' does not exist"),
        (("connections", "test", "ghost"), "connection 'ghost' does not exist"),
        (("variables", "get", "ghost"), "variable 'ghost' does not exist"),
        (("variables", "delete", "ghost"), "variable 'ghost' does not exist"),
    ):
        result = migrated(*args)
        assert result.code == 1 and message in result.err, (args, result.err)


def test_delete_then_add_again(migrated: RunCli) -> None:
    assert migrated("connections", "add", "c", "--conn-uri", "http://h").code == 0
    again = migrated("connections", "add", "c", "--conn-uri", "http://h")
    assert again.code == 1 and "already exists" in again.err
    assert migrated("connections", "delete", "c").code == 0
    assert migrated("connections", "add", "c", "--conn-uri", "http://h").code == 0


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".env"])
def test_connections_export_then_import_round_trips(migrated: RunCli, tmp_path: Path, suffix: str) -> None:
    assert (
        migrated("connections", "add", "a", "--conn-uri", "postgres://u:p%40ss@h:1/d?sslmode=require").code
        == 0
    )
    assert migrated("connections", "add", "b", "--conn-type", "http", "--conn-host", "api").code == 0
    before = {c: _get(migrated, c) for c in ("a", "b")}
    target = tmp_path / f"conns{suffix}"
    without = migrated("connections", "export", str(target))
    assert "p@ss" not in target.read_text() and "were left out" in without.err
    assert migrated("connections", "export", str(target), "--show-secrets").code == 0
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    for c in ("a", "b"):
        assert migrated("connections", "delete", c).code == 0
    imported = migrated("connections", "import", str(target))
    assert imported.code == 0 and "Imported 2 connection(s)" in imported.out
    after = {c: _get(migrated, c) for c in ("a", "b")}
    for c in ("a", "b"):
        assert {k: v for k, v in after[c].items() if k != "description"} == {
            k: v for k, v in before[c].items() if k != "description"
        }
    clash = migrated("connections", "import", str(target))
    assert clash.code == 1 and "already exists" in clash.err
    assert migrated("connections", "import", str(target), "--overwrite").code == 0


def test_variables_set_get_list_import_export(migrated: RunCli, tmp_path: Path) -> None:
    run = migrated
    assert run("variables", "set", "cfg", '{"a": [1, 2]}', "--json", "--description", "config").code == 0
    bad = run("variables", "set", "cfg", "{nope", "--json")
    assert bad.code == 2 and "not valid JSON" in bad.err
    assert run("variables", "get", "cfg", "--json").out == '{\n  "a": [\n    1,\n    2\n  ]\n}\n'
    assert run("variables", "get", "ghost", "--default", "dflt").out == "dflt\n"
    assert run("variables", "set", "db_password", "hunter22").code == 0
    assert run("variables", "get", "db_password").out == "***\n"
    listed = json.loads(run("variables", "list", "-o", "json").out)
    assert {v["key"]: (v["value"], v["sensitive"]) for v in listed} == {
        "cfg": ('{"a": [1, 2]}', False),
        "db_password": ("***", True),
    }
    source = tmp_path / "vars.json"
    source.write_text(json.dumps({"n": 3, "obj": {"x": 1}, "s": "text"}))
    assert run("variables", "import", str(source)).code == 0
    assert run("variables", "get", "n").out == "3\n"
    assert json.loads(run("variables", "get", "obj").out) == {"x": 1}
    exported = json.loads(run("variables", "export", "-").out)
    assert exported["db_password"] == "***" and exported["s"] == "text"
    assert json.loads(run("variables", "export", "-", "--show-secrets").out)["db_password"] == "hunter22"
    assert run("variables", "delete", "n").code == 0
    assert run("variables", "get", "n").code == 1
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2]")
    result = run("variables", "import", str(broken))
    assert result.code == 2 and "must hold an object" in result.err


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(int(self.headers.get("X-Answer", "200")))
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def http_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_connections_test_opens_known_types(migrated: RunCli, http_server: int, tmp_path: Path) -> None:
    run = migrated
    pg = DEFAULT_POSTGRES_SERVER_URL.replace("postgresql+psycopg", "postgres")
    cases = {
        "web_ok": (f"http://127.0.0.1:{http_server}", 0, "answered 200"),
        "web_500": (f"http://127.0.0.1:{http_server}?X-Answer=500", 1, "answered 500"),
        "web_down": ("http://127.0.0.1:9/", 1, "ConnectError"),
        "lite": (f"sqlite:///{tmp_path / 'x.db'}", 0, "sqlite"),
        "pg_bad_pw": ("postgres://nobody:sekrit-pw@127.0.0.1:5432/test", 1, "failed"),
        "ftp": ("ftp://files.example", 1, "cannot be tested"),
        "maria": ("mysql://root@127.0.0.1:3306/test", 0, "mysql"),
    }
    if pg.startswith("postgres://"):
        cases["pg"] = (pg, 0, "postgresql")
    for conn_id, (uri, _code, _words) in cases.items():
        assert run("connections", "add", conn_id, "--conn-uri", uri).code == 0
    for conn_id, (_uri, code, words) in cases.items():
        result = run("connections", "test", conn_id)
        assert result.code == code and words in result.out, (conn_id, result.out, result.err)
        assert "sekrit-pw" not in result.out + result.err
