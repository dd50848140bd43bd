"""``windvane db migrate | reset | check``."""

from __future__ import annotations

import io

import pytest

from .conftest import RunCli


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_check_migrate_check(run_cli: RunCli) -> None:
    before = run_cli("db", "check")
    assert before.code == 1
    assert "empty (no schema)" in before.out and "windvane db migrate" in before.out
    migrated = run_cli("db", "migrate")
    assert migrated.code == 0 and "is at revision" in migrated.out
    assert run_cli("db", "migrate").code == 0  # again: nothing to do
    after = run_cli("db", "check")
    assert after.code == 0 and "is current" in after.out


def test_reset_without_yes_and_without_a_terminal_refuses(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("db", "migrate").code == 0
    assert run_cli("pools", "set", "keep_me", "3").code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    refused = run_cli("db", "reset")
    assert refused.code == 2
    assert "refusing to reset the database" in refused.err and "--yes" in refused.err
    assert "keep_me" in run_cli("pools", "list", "-o", "plain").out


def test_reset_on_a_terminal_asks(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("db", "migrate").code == 0
    assert run_cli("pools", "set", "keep_me", "3").code == 0
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    declined = run_cli("db", "reset")
    assert declined.code == 1 and "Aborted" in declined.err
    assert "keep_me" in run_cli("pools", "list", "-o", "plain").out
    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    assert run_cli("db", "reset").code == 0
    assert "keep_me" not in run_cli("pools", "list", "-o", "plain").out


def test_reset_with_yes_drops_data_and_migrates(run_cli: RunCli) -> None:
    assert run_cli("db", "migrate").code == 0
    assert run_cli("pools", "set", "gone", "3").code == 0
    result = run_cli("db", "reset", "--yes")
    assert result.code == 0 and "was reset" in result.out
    pools = run_cli("pools", "list", "-o", "plain").out
    assert "gone" not in pools and "default_pool" in pools
    assert run_cli("db", "check").code == 0
