"""``windvane celery worker``'s command line, and the executor without Celery installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from windvane.celery.factory import create
from windvane.cli.main import main
from windvane.core.executors import ExecutorOptions
from windvane.errors import ExecutorError


def test_a_queue_list_naming_no_queue_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(tmp_path), "celery", "worker", "--queues", " , "]) == 2
    assert "no queue named in ' , '" in capsys.readouterr().err


def test_a_bad_setting_stops_the_worker_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINDVANE__CELERY__RESULT_BACKEND", "rpc://")
    assert main(["--home", str(tmp_path), "celery", "worker"]) == 1
    assert "[celery] result_backend 'rpc://'" in capsys.readouterr().err


def test_without_celery_the_executor_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "celery", None)  # import celery now raises ImportError
    options = ExecutorOptions(
        parallelism=1, db_url="sqlite:///x.db", log_folder=str(tmp_path), heartbeat_seconds=1
    )
    with pytest.raises(ExecutorError, match=r"pip install 'windvane\[celery\]'"):
        create(options)
