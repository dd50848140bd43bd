"""The CLI fixtures (a tmp home on SQLite, ``main`` run in-process) for fault tests that go through it."""

from __future__ import annotations

from tests.cli.conftest import RunCli, _isolated, dags_folder, home, ready, run_cli

#: ``run_cli``/``ready``: run ``windvane`` in-process, get its exit code and output.
RunCliLike = RunCli

__all__ = ["RunCliLike", "_isolated", "dags_folder", "home", "ready", "run_cli"]
