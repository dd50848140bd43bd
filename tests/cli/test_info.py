"""``windvane info``: versions, paths, the database without its password, the executor, sources."""

from __future__ import annotations

import json

import pytest

from .conftest import RunCli


def test_info_shows_versions_paths_and_hides_the_password(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINDVANE__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg://u:s3cret@db.example/wv")
    result = run_cli("info", "-o", "json")
    assert result.code == 0, result.err
    assert "s3cret" not in result.out
    info = json.loads(result.out)
    assert info["database"]["url"] == "postgresql+psycopg://u:***@db.example/wv"
    assert info["windvane"]["version"] and info["versions"]["sqlalchemy"][0].isdigit()
    assert info["executor"]["name"] == "local"
    assert "windvane.toml (read)" in info["config sources"]["config file"]
    assert info["paths"]["home from"] == "--home"
    assert info["config sources"]["environment"] == "WINDVANE__DATABASE__SQL_ALCHEMY_CONN"
    assert "file" in info["config sources"]["settings by source"]
    table = run_cli("info")
    assert table.code == 0 and "dags_folder" in table.out and "s3cret" not in table.out
