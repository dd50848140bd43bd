"""``windvane completion``: scripts generated from the parser; the bash one runs in a real bash."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from windvane.cli.completion import bash_script, fish_script, zsh_script
from windvane.cli.main import build_parser
from windvane.cli.parser.walk import commands

from .conftest import RunCli

BASH = shutil.which("bash")


def _complete(script: Path, *words: str) -> list[str]:
    """What Tab offers after ``words`` (the last one is being typed), in a real bash."""
    assert BASH is not None
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"source {script} || exit 3\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        '_windvane; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run([BASH, "--norc", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.split()


@pytest.fixture
def bash_file(run_cli: RunCli, tmp_path: Path) -> Path:
    result = run_cli("completion", "bash")
    assert result.code == 0 and result.err == ""
    path = tmp_path / "windvane.bash"
    path.write_text(result.out)
    return path


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_completes_commands_options_and_choices(bash_file: Path) -> None:
    assert _complete(bash_file, "windvane", "da") == ["dags", "dag-processor"]
    assert "next-execution" in _complete(bash_file, "windvane", "dags", "")
    assert _complete(bash_file, "windvane", "--home", "/tmp/x", "dags", "re") == ["report"]
    assert _complete(bash_file, "windvane", "dags", "list", "-o", "") == ["table", "json", "plain"]
    assert _complete(bash_file, "windvane", "completion", "") == ["bash", "zsh", "fish"]
    check = _complete(bash_file, "windvane", "jobs", "check", "--")
    assert {"--job-type", "--hostname", "--local", "--limit", "--allow-multiple", "--home"} <= set(check)
    assert _complete(bash_file, "windvane", "jobs", "check", "--job-type", "") == [
        "scheduler",
        "dag-processor",
    ]


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_offers_every_commands_options(bash_file: Path) -> None:
    for command in commands(build_parser()):
        if command.subcommands:
            assert _complete(bash_file, *command.name.split(), "") == list(command.subcommands)


def test_zsh_and_fish_scripts_hold_every_command_and_option() -> None:
    parser = build_parser()
    zsh, fish = zsh_script(parser), fish_script(parser)
    assert zsh.startswith("#compdef windvane") and "compdef _windvane windvane" in zsh
    assert "complete -c windvane" in fish
    for command in commands(parser):
        for sub in command.subcommands:
            assert sub in zsh and sub in fish
        for option in command.options:
            assert option in zsh and option in fish
    assert bash_script(parser).count("complete -F _windvane windvane") == 1
