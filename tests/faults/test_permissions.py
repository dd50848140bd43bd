"""Defect 10: the metadata database (with its WAL and SHM files) and the task logs are owner-only
by default (files 0600, folders 0700); ``[core] umask`` loosens it. Before the fix they were 0644/0755."""

from __future__ import annotations

import os
import stat
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import RunCliLike

RUN_ID = "perm_run"


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    """The umask a shell usually has, so the test shows what Windvane itself sets."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _run_a_task(ready: RunCliLike) -> None:
    assert ready("dags", "trigger", "chain", "--run-id", RUN_ID).code == 0
    ran = ready("tasks", "run", "chain", "a", RUN_ID)
    assert ran.code == 0, ran.out + ran.err


def test_database_wal_and_logs_are_owner_only_by_default(ready: RunCliLike, home: Path) -> None:
    _run_a_task(ready)
    database = home / "windvane.db"
    files = [database] + [p for p in (home / "windvane.db-wal", home / "windvane.db-shm") if p.exists()]
    log = home / "logs" / "dag_id=chain" / f"run_id={RUN_ID}" / "task_id=a" / "attempt=1.log"
    files.append(log)
    assert {str(p): oct(_mode(p)) for p in files} == {str(p): "0o600" for p in files}
    folders = [log.parent, log.parent.parent, log.parent.parent.parent, home / "logs"]
    assert {str(p): oct(_mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
    assert os.umask(0o022) == 0o022  # the command gave the process its umask back


def test_umask_setting_loosens_it(ready: RunCliLike, home: Path) -> None:
    config = home / "windvane.toml"
    config.write_text(config.read_text().replace("[core]\n", '[core]\numask = "027"\n', 1))
    _run_a_task(ready)
    log = home / "logs" / "dag_id=chain" / f"run_id={RUN_ID}" / "task_id=a" / "attempt=1.log"
    assert oct(_mode(log)) == "0o640"
    assert oct(_mode(log.parent)) == "0o750"


def test_a_bad_umask_is_a_config_error_naming_the_key(run_cli: RunCliLike, home: Path) -> None:
    config = home / "windvane.toml"
    config.write_text(config.read_text().replace("[core]\n", '[core]\numask = "999"\n', 1))
    result = run_cli("config", "list")
    assert result.code == 1 and "core.umask" in result.err, textwrap.shorten(result.err, 300)
