"""Encryption at rest: Fernet tokens in the rows, rotation to a new key, clear errors for bad keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from windvane.core.store.fernet import FernetCodec
from windvane.errors import ConfigError, StoreError

from ..cli.conftest import RunCli

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_encrypts_with_the_first_key_and_decrypts_with_any() -> None:
    old = FernetCodec([OLD])
    token, encrypted = old.encrypt("s3cret-value", "x")
    assert encrypted and token is not None and "s3cret" not in token
    both = FernetCodec([NEW, OLD])
    assert both.decrypt(token, True, "x") == "s3cret-value"
    rotated = both.rotate(token, True, "x")
    assert FernetCodec([NEW]).decrypt(rotated, True, "x") == "s3cret-value"
    with pytest.raises(StoreError, match="cannot be decrypted with any key"):
        FernetCodec([NEW]).decrypt(token, True, "variable 'k'")


def test_without_a_key_values_are_plain_and_encrypted_rows_are_an_error() -> None:
    plain = FernetCodec()
    assert plain.encrypt("v", "x") == ("v", False)
    assert plain.decrypt("v", False, "x") == "v"
    with pytest.raises(StoreError, match="variable 'k' is encrypted but no \\[core\\] fernet_key"):
        plain.decrypt("gAAAA", True, "variable 'k'")


def test_a_malformed_key_names_the_setting_and_its_position() -> None:
    with pytest.raises(ConfigError, match=r"\[core\] fernet_key: key 2 of 2 is not a Fernet key"):
        FernetCodec.from_setting(f"{NEW}, not-a-key")


def _rows(home: Path) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(home / "windvane.db") as db:
        rows = db.execute("SELECT key, val, is_encrypted FROM variable").fetchall()
        rows += db.execute("SELECT conn_id, password, is_encrypted FROM connection").fetchall()
    return {key: (val, flag) for key, val, flag in rows}


def test_rotate_fernet_key_encrypts_plain_rows_then_moves_them_to_a_new_key(
    run_cli: RunCli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("db", "migrate").code == 0
    assert run_cli("variables", "set", "color", "blue-plain").code == 0
    assert run_cli("connections", "add", "db1", "--conn-uri", "postgresql://u:pw-plain-1@h/d").code == 0
    assert _rows(home) == {"color": ("blue-plain", 0), "db1": ("pw-plain-1", 0)}

    monkeypatch.setenv("WINDVANE__CORE__FERNET_KEY", OLD)
    rotated = run_cli("rotate-fernet-key")
    assert rotated.code == 0 and "1 connection(s) and 1 variable(s)" in rotated.out
    old_rows = _rows(home)
    assert all(flag == 1 and "plain" not in val for val, flag in old_rows.values())
    assert run_cli("variables", "get", "color").out.strip() == "blue-plain"

    monkeypatch.setenv("WINDVANE__CORE__FERNET_KEY", f"{NEW},{OLD}")  # new key first, old still reads
    assert run_cli("variables", "get", "color").out.strip() == "blue-plain"
    assert run_cli("rotate-fernet-key").code == 0
    monkeypatch.setenv("WINDVANE__CORE__FERNET_KEY", NEW)  # the old key dropped
    assert run_cli("variables", "get", "color").out.strip() == "blue-plain"
    shown = run_cli("connections", "get", "db1", "--show-secrets", "-o", "json")
    assert '"password": "pw-plain-1"' in shown.out

    monkeypatch.setenv("WINDVANE__CORE__FERNET_KEY", OLD)  # a key that never encrypted these rows
    failed = run_cli("variables", "get", "color")
    assert failed.code == 1 and "variable 'color' cannot be decrypted" in failed.err
    listed = run_cli("variables", "list")  # a list still lists, saying which rows it cannot read
    assert listed.code == 0 and "(cannot be decrypted)" in listed.out
    assert "warning: variable 'color' cannot be decrypted" in listed.err
    assert run_cli("connections", "list").code == 0


def test_rotate_without_a_key_is_an_error(run_cli: RunCli) -> None:
    assert run_cli("db", "migrate").code == 0
    result = run_cli("rotate-fernet-key")
    assert result.code == 1 and "needs [core] fernet_key" in result.err


def test_config_list_masks_the_fernet_key(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINDVANE__CORE__FERNET_KEY", OLD)
    shown = run_cli("config", "list", "--section", "core")
    assert shown.code == 0 and OLD not in shown.out and "fernet_key" in shown.out
