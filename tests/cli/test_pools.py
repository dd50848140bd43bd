"""``windvane pools list | set | delete``."""

from __future__ import annotations

import json

from .conftest import RunCli


def test_set_list_delete(ready: RunCli) -> None:
    created = ready("pools", "set", "etl", "4", "--description", "ETL jobs")
    assert created.code == 0 and "etl" in created.out
    pools = {p["name"]: p for p in json.loads(ready("pools", "list", "-o", "json").out)}
    assert pools["etl"] == {"name": "etl", "slots": 4, "description": "ETL jobs"}
    assert pools["default_pool"]["slots"] == 128
    assert ready("pools", "set", "etl", "0").code == 0
    assert "etl\t0\t-" in ready("pools", "list", "-o", "plain").out
    table = ready("pools", "list")
    assert "default_pool" in table.out and "etl" in table.out
    assert ready("pools", "delete", "etl").code == 0
    assert "etl" not in ready("pools", "list", "-o", "plain").out


def test_errors_name_the_pool(ready: RunCli) -> None:
    missing = ready("pools", "delete", "nope")
    assert missing.code == 1 and missing.err == "windvane: error: pool 'nope' does not exist\n"
    default = ready("pools", "delete", "default_pool")
    assert default.code == 1 and "'default_pool' cannot be deleted" in default.err
    negative = ready("pools", "set", "etl", "-1")
    assert negative.code == 2 and "argument slots: must be 0 or more" in negative.err
    not_number = ready("pools", "set", "etl", "many")
    assert not_number.code == 2 and "argument slots: not a whole number: 'many'" in not_number.err
