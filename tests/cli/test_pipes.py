"""``windvane ... | head``: a reader that goes away early ends the command quietly (exit 141)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from windvane.cli.main import EXIT_BROKEN_PIPE


def _run_into_closed_pipe(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``windvane`` in a child whose stdout is a real pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `head` having exited: every write gets EPIPE
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDVANE")}
    try:
        return subprocess.run(
            [sys.executable, "-m", "windvane.cli.main", "--home", str(home), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args", [("config", "list"), ("config", "list", "-o", "json")], ids=["rich-table", "json"]
)
def test_closed_stdout_pipe_exits_141_without_a_word(home: Path, args: tuple[str, ...]) -> None:
    result = _run_into_closed_pipe(home, *args)
    assert result.stderr.decode() == ""
    assert result.returncode == EXIT_BROKEN_PIPE == 141


@pytest.mark.parametrize("args", [("--help",), ("dags", "--help")], ids=["help", "sub-help"])
def test_help_into_a_closed_pipe_is_quiet(home: Path, args: tuple[str, ...]) -> None:
    result = _run_into_closed_pipe(home, *args)
    assert result.stderr.decode() == ""
    # argparse drops a help text the pipe refused (0); one still buffered fails at the flush (141)
    assert result.returncode in (0, EXIT_BROKEN_PIPE)


def test_head_reads_the_first_line_and_the_command_ends_quietly(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDVANE")}
    shell = f"{sys.executable} -m windvane.cli.main --home {home} config list -o plain | head -n 1"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, env=env, timeout=60, check=False
    )
    assert len(result.stdout.decode().splitlines()) == 1
    assert b"BrokenPipe" not in result.stderr and b"error" not in result.stderr
    assert result.returncode in (0, EXIT_BROKEN_PIPE)  # 0 when it all fit in the pipe before head left
