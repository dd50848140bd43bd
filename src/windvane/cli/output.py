"""Printing results: rich tables, JSON (``--output json``) or tab-separated plain text.

Rows are dicts (column name -> value), so the same rows serve every format:
JSON keeps the values as they are (datetimes as ISO strings), tables and
plain text show them as text. Errors go to stderr as one line.

Nothing here interprets ``[brackets]`` as rich markup: DAG ids, file names
and error messages are printed as they are.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

#: Width used when stdout is not a terminal: wide enough that tables never wrap in pipes and logs.
_PIPE_WIDTH = 4000


def cell(value: object) -> str:
    """How a value reads in a table: ISO datetimes, ``-`` for None, lists comma-separated."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value) or "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def error_summary(error: str, *, limit: int = 200) -> str:
    """The line of a traceback that says what went wrong (its last non-blank one), at most ``limit``
    characters: for consoles that already showed, or will not show, the whole traceback."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    text = lines[-1] if lines else "(no error message)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


class _Console(Console):
    """A rich console that lets a closed pipe surface as ``BrokenPipeError``.

    Rich's own handling exits with code 1; :func:`windvane.cli.main.main` ends quietly with 141.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


class Output:
    """Where a command prints: ``stdout`` for results, ``stderr`` for errors and notes."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.console = self._console(self.stdout)
        self.err_console = self._console(self.stderr)

    @staticmethod
    def _console(stream: TextIO) -> Console:
        tty = stream.isatty()
        return _Console(
            file=stream,
            width=None if tty else _PIPE_WIDTH,
            markup=False,
            highlight=False,
            emoji=False,
            soft_wrap=not tty,
        )

    # -- plain lines ------------------------------------------------------------
    def line(self, text: str = "") -> None:
        """One line of text on stdout."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def note(self, text: str) -> None:
        """A remark on stderr (progress, hints) that scripts reading stdout do not see."""
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def error(self, text: str) -> None:
        """``windvane: error: <text>`` on stderr."""
        self.note(f"windvane: error: {text}")

    def render(self, renderable: RenderableType) -> None:
        """Any rich renderable (a tree, a panel) on stdout."""
        self.console.print(renderable)

    # -- structured results ----------------------------------------------------
    def json(self, data: object) -> None:
        """``data`` as indented JSON on stdout (datetimes as ISO strings)."""
        self.stdout.write(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
        self.stdout.flush()

    def rows(
        self,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[str],
        *,
        fmt: str = "table",
        title: str | None = None,
        empty: str = "Nothing to show.",
    ) -> None:
        """Print ``rows`` (only ``columns`` in tables and plain text) as ``fmt``."""
        if fmt == "json":
            self.json(list(rows))
            return
        if not rows:
            self.note(empty)
            return
        if fmt == "plain":
            for row in rows:
                self.line("\t".join(cell(row.get(column)) for column in columns))
            return
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(Text(cell(row.get(column))) for column in columns))
        self.console.print(table)
