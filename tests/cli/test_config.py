"""``windvane config list | get``: values, sources and masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import RunCli

PG_URL = "postgresql+psycopg://windvane:s3cret@db.internal/windvane"


def _set_db_url(home: Path) -> None:
    config = home / "windvane.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f'\n[database]\nsql_alchemy_conn = "{PG_URL}"\n',
        encoding="utf-8",
    )


def test_list_shows_values_and_sources(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINDVANE__SCHEDULER__HEARTBEAT_SECONDS", "7")
    rows = json.loads(run_cli("config", "list", "-o", "json").out)
    by_key = {f"{r['section']}.{r['key']}": r for r in rows}
    assert by_key["core.parallelism"] == {
        "section": "core",
        "key": "parallelism",
        "value": "2",
        "source": "file",
        "allowed": "integer between 1 and 1000000",
    }
    assert by_key["scheduler.heartbeat_seconds"]["source"] == "env"
    assert by_key["scheduler.heartbeat_seconds"]["value"] == "7.0"
    assert by_key["metrics.prometheus_port"]["source"] == "default"
    table = run_cli("config", "list")
    assert table.code == 0 and "source" in table.out and "parallelism" in table.out


def test_list_one_section_and_unknown_section(run_cli: RunCli) -> None:
    rows = json.loads(run_cli("config", "list", "--section", "database", "-o", "json").out)
    assert {r["section"] for r in rows} == {"database"}
    unknown = run_cli("config", "list", "--section", "databse")
    assert unknown.code == 1 and "unknown config section 'databse'" in unknown.err


def test_secrets_are_masked(run_cli: RunCli, home: Path) -> None:
    _set_db_url(home)
    listed = run_cli("config", "list", "--section", "database").out
    assert "s3cret" not in listed and "windvane:***@db.internal" in listed
    got = run_cli("config", "get", "database.sql_alchemy_conn")
    assert got.code == 0 and got.out.strip() == "postgresql+psycopg://windvane:***@db.internal/windvane"
    revealed = run_cli("config", "get", "database.sql_alchemy_conn", "--reveal")
    assert revealed.out.strip() == PG_URL


def test_get_values(run_cli: RunCli, home: Path) -> None:
    assert run_cli("config", "get", "core.parallelism").out == "2\n"
    assert run_cli("config", "get", "core.dags_are_paused_at_creation").out == "false\n"
    assert run_cli("config", "get", "core.dags_folder").out.strip().endswith("dags")


def test_get_unknown_key_suggests_the_right_one(run_cli: RunCli) -> None:
    result = run_cli("config", "get", "core.paralelism")
    assert result.code == 1
    assert (
        result.err
        == "windvane: error: unknown config key 'core.paralelism'; did you mean 'core.parallelism'?\n"
    )
