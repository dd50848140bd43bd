"""The listings' SQLAlchemy-free path (:mod:`windvane.cli.quick_read`): the same output as through
SQLAlchemy on both backends, the engine's errors whenever it is unsure, and no SQLAlchemy, rich or
pendulum imported when it serves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from windvane.cli import quick_read
from windvane.core.store.engine import begin_write, create_db_engine

from .conftest import BROKEN_DAG, RunCli, write_dag

LISTINGS = (
    ("dags", "list"),
    ("dags", "list", "-o", "json"),
    ("dags", "list", "-o", "plain"),
    ("dags", "list-runs", "chain"),
    ("dags", "list-runs", "chain", "--state", "queued", "--limit", "1", "-o", "json"),
    ("dags", "list-runs", "nope"),
    ("dags", "list-import-errors"),
    ("dags", "list-import-errors", "-o", "json"),
    ("tasks", "list", "chain"),
    ("tasks", "list", "chain", "-o", "json"),
    ("tasks", "list", "chain", "--tree"),
    ("tasks", "list", "nope"),
)
#: What the quick path must not import (on either backend).
NOT_IMPORTED = ("sqlalchemy", "alembic", "rich", "pendulum", "windvane.core.scheduler", "windvane.metrics")


@pytest.fixture
def filled(run_cli: RunCli, home: Path, dags_folder: Path, db_url: str) -> RunCli:
    """``run_cli`` on ``db_url`` (SQLite or PostgreSQL) holding parsed DAGs, runs and an import error."""
    config = home / "windvane.toml"
    config.write_text(config.read_text() + f"\n[database]\nsql_alchemy_conn = {json.dumps(db_url)}\n")
    write_dag(dags_folder, "broken.py", BROKEN_DAG)
    assert run_cli("db", "migrate").code == 0
    run_cli("dag-processor", "--num-runs", "1")  # exit 1: broken.py
    for run_id in ("r1", "r2"):
        assert (
            run_cli("dags", "trigger", "chain", "--run-id", run_id, "-l", f"2024-01-0{run_id[1]}").code == 0
        )
    return run_cli


def _probe(home: Path, *argv: str) -> list[str]:
    """The modules ``windvane argv`` imported, in a fresh interpreter."""
    program = (
        "import json, sys\nfrom windvane.cli.main import main\ncode = main(sys.argv[1:])\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "--home", str(home), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    modules: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return modules


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in NOT_IMPORTED)]


def test_both_paths_print_the_same(filled: RunCli, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    quick = {argv: filled(*argv) for argv in LISTINGS}
    assert quick[("dags", "list-runs", "nope")].err == "windvane: error: DAG 'nope' does not exist\n"
    assert "broken.py" in quick[("dags", "list-import-errors")].out
    assert [r["run_id"] for r in json.loads(quick[LISTINGS[4]].out)] == ["r2"]
    monkeypatch.setattr(quick_read, "quick_db", lambda settings: None)  # the SQLAlchemy path
    for argv in LISTINGS:
        assert filled(*argv) == quick[argv], argv
    assert _heavy(_probe(home, "dags", "list")) == []  # the quick path served (no SQLAlchemy)


def test_unsure_means_the_engines_errors(run_cli: RunCli, home: Path) -> None:
    """No database file, or a schema the quick look does not find current: the engine's messages."""
    missing = run_cli("dags", "list")
    assert missing.code == 1 and "is empty (no Windvane tables)" in missing.err
    assert run_cli("db", "migrate").code == 0
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    try:
        with begin_write(engine) as conn:
            conn.execute(text("DELETE FROM alembic_version"))
            conn.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
    finally:
        engine.dispose()
    for argv in (("dags", "list"), ("dags", "list-runs", "x"), ("dags", "list-import-errors")):
        behind = run_cli(*argv)
        assert behind.code == 1 and "expected revision" in behind.err, (argv, behind.err)


def test_sql_echo_takes_the_engine(run_cli: RunCli, home: Path) -> None:
    assert run_cli("db", "migrate").code == 0
    config = home / "windvane.toml"
    config.write_text(config.read_text() + "\n[database]\necho = true\n")
    modules = _probe(home, "dags", "list")
    assert "sqlalchemy" in modules  # [database] echo logs the statements through SQLAlchemy
