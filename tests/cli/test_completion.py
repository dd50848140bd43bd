"""``windvane completion``: scripts generated from the parser, each run in its own shell (bash, zsh
through its real completion system, fish with ``complete -C``), completing commands, options,
choices and DAG ids (which the scripts ask ``windvane dags list`` for)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from windvane.cli.completion import bash_script, fish_script, zsh_script
from windvane.cli.main import build_parser
from windvane.cli.parser.walk import commands

from .conftest import RunCli

BASH = shutil.which("bash")
#: The console script of this environment: the scripts run ``windvane dags list`` for DAG ids.
BIN = Path(sys.executable).parent
#: Drives an interactive zsh on a pseudo-terminal: loads compinit and the script, types the line and
#: a Tab, and prints what the completion system offered (compadd's matches, already filtered by zsh).
ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
local line
zpty -w z "PROMPT='' RPROMPT=''"
zpty -w z "fpath=(${(q)1:h} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "bindkey '^I' complete-word"
zpty -w z 'comppostfuncs=( exit )'
zpty -w z 'compadd() { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; local -a hits; builtin compadd -A hits "$@"; (( $#hits )) || return 1; print -r -l -- ${:-WV}HIT:${^hits}; }'
zpty -w z "source ${(q)1}"
zpty -w -n z "$2"$'\t'
while zpty -r z line; do
    [[ $line == *WVHIT:* ]] && print -r -- ${${line#*WVHIT:}%%$'\r'*}
done
return 0
"""  # noqa: E501


def _shell(name: str) -> str:
    """The shell's path; a skip when it is missing (a failure in CI, which installs it: .ci/run)."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing; CI installs it (.ci/run)")
        pytest.skip(f"{name} is not installed")
    return found


def _env(home: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("WINDVANE_HOME", None)
    if home is not None:
        env["WINDVANE_HOME"] = str(home)
    return env


def _complete(script: Path, *words: str, home: Path | None = None) -> list[str]:
    """What Tab offers after ``words`` (the last one is being typed), in a real bash."""
    assert BASH is not None
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"source {script} || exit 3\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        '_windvane; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        [BASH, "--norc", "-c", program], capture_output=True, text=True, timeout=30, env=_env(home)
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.split()


def _script(run_cli: RunCli, tmp_path: Path, shell: str, name: str) -> Path:
    result = run_cli("completion", shell)
    assert result.code == 0 and result.err == ""
    folder = tmp_path / f"{shell}-completions"
    folder.mkdir()
    path = folder / name
    path.write_text(result.out)
    return path


@pytest.fixture
def bash_file(run_cli: RunCli, tmp_path: Path) -> Path:
    return _script(run_cli, tmp_path, "bash", "windvane.bash")


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


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_completes_dag_ids_from_the_database(bash_file: Path, ready: RunCli, home: Path) -> None:
    assert _complete(bash_file, "windvane", "--home", str(home), "dags", "trigger", "") == [
        "chain",
        "failing",
    ]
    assert _complete(bash_file, "windvane", "tasks", "list", "c", home=home) == ["chain"]
    assert _complete(bash_file, "windvane", f"--home={home}", "dags", "pause", "f") == ["failing"]
    assert _complete(bash_file, "windvane", "tasks", "list", "chain", "", home=home) == []  # one DAG id
    assert _complete(bash_file, "windvane", "--home", str(home / "nothing"), "dags", "trigger", "") == []


def test_zsh_completes_commands_choices_and_dag_ids(
    run_cli: RunCli, ready: RunCli, tmp_path: Path, home: Path
) -> None:
    zsh = _shell("zsh")
    script = _script(run_cli, tmp_path, "zsh", "_windvane")
    driver = tmp_path / "driver.zsh"
    driver.write_text(ZSH_DRIVER)

    def complete(line: str, home: Path | None = None) -> list[str]:
        done = subprocess.run(
            [zsh, "-f", str(driver), str(script), line],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(home),
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("windvane da") == ["dags", "dag-processor"]
    assert complete("windvane dags li") == ["list", "list-runs", "list-import-errors"]
    assert complete("windvane dags list -o ") == ["table", "json", "plain"]
    assert complete(f"windvane --home {home} dags trigger ") == ["chain", "failing"]
    assert complete("windvane tasks list f", home=home) == ["failing"]
    assert complete("windvane tasks list chain ", home=home) == []


def test_fish_completes_commands_choices_and_dag_ids(
    run_cli: RunCli, ready: RunCli, tmp_path: Path, home: Path
) -> None:
    fish = _shell("fish")
    script = _script(run_cli, tmp_path, "fish", "windvane.fish")

    def complete(line: str, home: Path | None = None) -> list[str]:
        program = f"source {script}; or exit 3; complete -C {line!r}"
        done = subprocess.run(
            [fish, "--no-config", "-c", program],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(home),
            cwd=tmp_path,
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return done.stdout.split()

    assert complete("windvane da") == ["dags", "dag-processor"]
    assert complete("windvane dags list -o ") == ["json", "plain", "table"]  # fish sorts
    assert complete(f"windvane --home {home} dags trigger ") == ["chain", "failing"]
    assert complete("windvane tasks list f", home=home) == ["failing"]
    assert complete("windvane tasks list chain ", home=home) == []


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
