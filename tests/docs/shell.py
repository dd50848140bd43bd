"""Run a page's shell blocks in order, as a reader would type them, in a fresh home.

A :class:`Session` is one reader: a temporary ``HOME`` (so ``~/windvane``, the default
``WINDVANE_HOME``, is fresh), a working directory holding the repository's ``examples/``
(as a fresh clone's root would), the venv's ``windvane`` first on ``PATH``, and no
``WINDVANE__*`` settings from the outside. Each block runs in ``bash -eo pipefail``; the
environment and directory it leaves (``export``, ``cd``) carry over to the next block.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.docs.markdown import SCRIPT_LANGUAGES, Block
from tests.docs.matching import matches
from windvane.testing.waiting import wait_for

REPO = Path(__file__).parents[2]
#: Longest one block (or one transcript command) may take; a service block's wait included.
BLOCK_TIMEOUT = 120.0
#: Longest a service may take to stop after Ctrl-C.
STOP_TIMEOUT = 30.0
_SAVE_STATE = '\nenv -0 > "$DOCS_STATE_FILE"; pwd > "$DOCS_CWD_FILE"\n'


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DocsError(AssertionError):
    """A block failed: names the page and line, the command and what it printed."""


@dataclass
class Result:
    code: int
    output: str


class Session:
    """One reader of one page: runs its blocks in order and remembers their environment."""

    def __init__(self, root: Path) -> None:
        home = root / "home"
        self.cwd = root / "work"
        home.mkdir()
        self.cwd.mkdir()
        (self.cwd / "examples").symlink_to(REPO / "examples")
        self._state = root / "state"
        keep = {k: v for k, v in os.environ.items() if k in {"LANG", "LC_ALL", "TZ", "TMPDIR", "USER"}}
        self.env = {
            **keep,
            "HOME": str(home),
            "WINDVANE_HOME": str(home / "windvane"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "COLUMNS": "200",
            "TERM": "dumb",
            "NO_COLOR": "1",
            "DOCS_STATE_FILE": str(self._state),
            "DOCS_CWD_FILE": str(root / "cwd"),
        }

    def run(self, block: Block) -> None:
        """Run ``block`` (a script or a transcript); raise :class:`DocsError` when it fails."""
        for command in block.setup:
            self._expect_success(block, command, self._run(command))
        if block.file:
            (self.cwd / block.file).write_text(block.body)
            return
        if block.lang in SCRIPT_LANGUAGES:
            if block.until:
                self._run_service(block)
            else:
                self._expect_success(block, block.body, self._run(block.body))
            return
        commands = transcript(block.body)
        for number, (command, shown) in enumerate(commands, 1):
            result = self._run(command)
            self._expect_success(block, command, result, code=block.exit if number == len(commands) else 0)
            if not matches(shown, result.output):
                raise DocsError(
                    f"{block.where}: the output of `{command}` differs from the page\n"
                    f"--- page ---\n{shown}\n--- actual ---\n{result.output}"
                )

    def _run(self, script: str) -> Result:
        proc = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script + _SAVE_STATE],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=BLOCK_TIMEOUT,
        )
        if proc.returncode == 0:
            self._load_state()
        return Result(proc.returncode, proc.stdout)

    def _run_service(self, block: Block) -> None:
        """Run the block; once its output matches ``until``, press Ctrl-C; it must stop cleanly."""
        out = self._state.with_name("service.out")
        ready = re.compile(block.until or "")
        with out.open("w") as sink:
            proc = subprocess.Popen(
                ["bash", "-eo", "pipefail", "-c", block.body + _SAVE_STATE],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ctrl-C reaches it and its children only
                # As from a terminal: a runner started in the background (``cmd &``, nohup) ignores
                # SIGINT, and a shell that starts with it ignored can never trap it.
                preexec_fn=_default_sigint,
            )
        try:
            wait_for(
                lambda: proc.poll() is not None or ready.search(out.read_text()) is not None,
                timeout=BLOCK_TIMEOUT,
                what=f"{block.where}: output matching {block.until!r}",
            )
            if proc.poll() is not None:
                raise DocsError(f"{block.where}: exited (code {proc.returncode}) before it was ready")
            os.killpg(proc.pid, signal.SIGINT)
            code = proc.wait(timeout=STOP_TIMEOUT)
        except BaseException as exc:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            where = "" if isinstance(exc, DocsError) else f"{block.where}: "
            raise DocsError(f"{where}{exc}\n--- output ---\n{out.read_text()}") from exc
        self._expect_success(block, block.body, Result(code, out.read_text()))
        self._load_state()

    def _expect_success(self, block: Block, command: str, result: Result, code: int = 0) -> None:
        if result.code != code:
            raise DocsError(
                f"{block.where}: exit code {result.code} (expected {code}) from\n{command.strip()}\n"
                f"--- output ---\n{result.output}"
            )

    def _load_state(self) -> None:
        if not self._state.exists():
            return
        pairs = (item.split("=", 1) for item in self._state.read_text().split("\0") if "=" in item)
        self.env = {key: value for key, value in pairs if not key.startswith("BASH_FUNC_") and key != "_"}
        self.cwd = Path(self._state.with_name("cwd").read_text().strip())
        self._state.unlink()


def transcript(body: str) -> list[tuple[str, str]]:
    """The ``$ command`` lines of a console block, each with the output shown under it."""
    pairs: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"output before the first '$ ' command: {line!r}")
    return [(command, "\n".join(shown)) for command, shown in pairs]
