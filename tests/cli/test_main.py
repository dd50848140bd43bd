"""The entry point: help everywhere, exit codes, errors without tracebacks."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from windvane.cli.main import build_parser, main

from .conftest import RunCli


def _leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.append((*prefix, name))
                found.extend(_leaf_commands(child, (*prefix, name)))
    return found


COMMANDS = _leaf_commands(build_parser())


def test_every_command_is_there() -> None:
    expected = {
        ("db", "migrate"), ("db", "reset"), ("db", "check"), ("db", "check-migrations"),
        ("dags", "list"), ("dags", "show"), ("dags", "trigger"), ("dags", "pause"), ("dags", "unpause"),
        ("dags", "list-runs"), ("dags", "list-import-errors"), ("dags", "test"), ("dags", "backfill"),
        ("dags", "check"), ("dags", "state"), ("tasks", "state"),
        ("tasks", "list"), ("tasks", "test"), ("tasks", "run"), ("tasks", "clear"),
        ("tasks", "states-for-dag-run"), ("tasks", "logs"),
        ("pools", "list"), ("pools", "set"), ("pools", "delete"),
        ("config", "list"), ("config", "get"),
        ("scheduler",), ("dag-processor",), ("standalone",),
    }  # fmt: skip
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_everywhere(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: windvane {' '.join(command)}")
    assert "--home PATH" in out
    description = out.split("\n\n")[1]
    assert len(description) > 15  # a real help text, not just the usage line


def test_top_level_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("db", "dags", "tasks", "pools", "config", "scheduler", "dag-processor", "standalone"):
        assert name in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("windvane ")


def test_missing_or_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required: COMMAND" in err
    assert main(["dags"]) == 2
    assert "windvane dags: error" in capsys.readouterr().err
    assert main(["dags", "frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_global_options_work_after_the_command(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "get", "core.parallelism", "--home", str(home)]) == 0
    assert capsys.readouterr().out.strip() == "2"


def test_home_env_var_is_used_and_home_option_wins(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WINDVANE_HOME", str(home))
    assert main(["config", "get", "core.parallelism"]) == 0
    assert capsys.readouterr().out.strip() == "2"
    assert main(["--home", str(tmp_path / "other"), "config", "get", "core.parallelism"]) == 0
    assert capsys.readouterr().out.strip() == "32"


def test_windvane_error_is_one_line_without_traceback_unless_verbose(run_cli: RunCli) -> None:
    quiet = run_cli("db", "migrate")
    assert quiet.code == 0
    failed = run_cli("dags", "show", "nope")
    assert failed.code == 1
    assert failed.err == "windvane: error: DAG 'nope' does not exist\n"
    verbose = run_cli("--verbose", "dags", "show", "nope")
    assert verbose.code == 1
    assert "Traceback (most recent call last)" in verbose.err
    assert verbose.err.rstrip().endswith("windvane: error: DAG 'nope' does not exist")


def test_bad_config_file_is_reported_naming_the_file(home: Path, run_cli: RunCli) -> None:
    (home / "windvane.toml").write_text("[core]\nparalelism = 3\n", encoding="utf-8")
    result = run_cli("config", "list")
    assert result.code == 1
    assert "unknown config key 'core.paralelism'" in result.err
    assert str(home / "windvane.toml") in result.err
    assert "Traceback" not in result.err


def test_commands_needing_the_database_say_to_migrate(run_cli: RunCli) -> None:
    result = run_cli("dags", "list")
    assert result.code == 1
    assert "is empty (no Windvane tables)" in result.err and "run 'windvane db migrate'" in result.err
