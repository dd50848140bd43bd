"""The entry point stays light: building the parser imports no command's heavy dependencies, and
the listings (``dags list`` ...) import neither SQLAlchemy nor rich nor pendulum.

Each check runs in a fresh interpreter (``sys.modules`` of this one has everything).
Timings are measured by ``bench/cli_startup.py``, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from windvane.cli.base import resolve_handler
from windvane.cli.main import build_parser
from windvane.cli.parser.walk import commands

from .conftest import RunCli

#: Module prefixes the entry point and the parser must not import.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "rich",
    "prometheus_client",
    "windvane.metrics",
    "windvane.core.scheduler",
    "windvane.core.store",
    "windvane.alerting",
    "pendulum",
    "jinja2",
    "httpx",
)

#: What the listings must not import on SQLite: the store's SQLAlchemy half, the engine's driver
#: for PostgreSQL, what DAG files and tasks need. ``tests/cli/test_quick_read.py`` checks PostgreSQL.
LISTING_HEAVY = (
    *(h for h in HEAVY if h != "windvane.core.store"),
    "windvane.core.store.engine",
    "windvane.core.store.tables",
    "windvane.core.store.migrate",
    "windvane.core.authoring",
    "windvane.core.worker",
    "windvane.core.task_api.secrets",
    "cryptography",
    "psycopg",
)
#: The plug-ins' migration packages (and their lazy parents): the schema check finds their folders.
MIGRATION_PACKAGES = (
    "windvane.alerting",
    "windvane.alerting.migrations",
    "windvane.api",
    "windvane.api.migrations",
)

_PROBE = """
import json, sys
from windvane.cli.main import build_parser, main
build_parser()
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _loaded(*argv: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=False, timeout=60
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], report["modules"]


def _heavy(modules: list[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy)]


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["dags", "--help"], ["tasks", "run", "--help"]])
def test_the_parser_and_help_import_nothing_heavy(argv: list[str]) -> None:
    code, modules = _loaded(*argv)
    assert code == 0
    assert _heavy(modules) == []
    assert "windvane.core.authoring.dag" not in modules  # `import windvane` is lazy too


def test_a_usage_error_imports_nothing_heavy() -> None:
    code, modules = _loaded("dags", "trigger")  # missing DAG id
    assert code == 2 and _heavy(modules) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["dags", "list"],
        ["dags", "list", "-o", "json"],
        ["dags", "list-runs", "chain", "-o", "plain"],
        ["dags", "list-import-errors"],
        ["tasks", "list", "chain"],  # pendulum, through the serialized DAG's dates
    ],
)
def test_the_listings_import_no_sqlalchemy_rich_or_pendulum(
    ready: RunCli, home: Path, argv: list[str]
) -> None:
    code, modules = _loaded("--home", str(home), *argv)
    assert code == 0
    heavy = tuple(h for h in LISTING_HEAVY if h != "pendulum" or argv[0] == "dags")
    assert _heavy([m for m in modules if m not in MIGRATION_PACKAGES], heavy) == []
    assert "windvane.core.store.lists_sql" in modules  # it read the database, without them


def test_every_command_names_a_handler_that_imports() -> None:
    leaves = [c for c in commands(build_parser()) if not c.subcommands]
    assert len(leaves) > 40
    for leaf in leaves:
        ref = leaf.parser.get_default("handler")
        assert isinstance(ref, str) and ":" in ref, leaf.name
        assert callable(resolve_handler(ref)), leaf.name


def test_the_parsers_copies_of_constants_match_their_sources() -> None:
    from windvane.alerting.tables import STATES
    from windvane.cli.parser.admin import DEFAULT_POOL
    from windvane.cli.parser.alerts import ALERT_STATES
    from windvane.cli.parser.dags import RUN_STATES
    from windvane.core.model.states import DagRunState
    from windvane.core.store.pools import DEFAULT_POOL as STORE_DEFAULT_POOL

    assert tuple(s.value for s in DagRunState) == RUN_STATES
    assert tuple(STATES) == ALERT_STATES
    assert DEFAULT_POOL == STORE_DEFAULT_POOL
