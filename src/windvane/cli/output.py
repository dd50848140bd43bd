"""Printing results: rich tables, JSON (``--output json``) or tab-separated plain text.

Rows are dicts (column name -> value), so the same rows serve every format:
JSON keeps the values as they are (datetimes as ISO strings), tables and
plain text show them as text. Errors go to stderr as one line.

Nothing here interprets ``[brackets]`` as rich markup: DAG ids, file names
and error messages are printed as they are.

Rich is imported when something needs it (a table on a terminal, a tree, a
progress bar): a table going to a pipe or a file is drawn by
:func:`~windvane.cli.box_table.box_table` as rich would draw it there, and JSON
and plain text need no rich at all. So ``windvane dags list | grep x`` starts
faster, and prints the same bytes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

#: Environment variables with which rich treats a pipe as a terminal (colours, styles): then rich
#: draws every table.
_RICH_TERMINAL_VARIABLES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


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


def shown_path(path: str, folder: Path) -> str:
    """``path`` relative to ``folder`` when it lies inside it, else as is."""
    try:
        relative = os.path.relpath(path, folder)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


class Output:
    """Where a command prints: ``stdout`` for results, ``stderr`` for errors and notes."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._console: Console | None = None
        self._err_console: Console | None = None

    @property
    def console(self) -> Console:
        """The rich console on stdout (made, and rich imported, on first use)."""
        if self._console is None:
            from windvane.cli.consoles import console_for

            self._console = console_for(self.stdout)
        return self._console

    @property
    def err_console(self) -> Console:
        """The rich console on stderr (made on first use)."""
        if self._err_console is None:
            from windvane.cli.consoles import console_for

            self._err_console = console_for(self.stderr)
        return self._err_console

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
        cells = [[cell(row.get(column)) for column in columns] for row in rows]
        if title is None and self._pipe_without_styles():
            from windvane.cli.box_table import PIPE_WIDTH, box_table

            drawn = box_table(columns, cells, max_width=PIPE_WIDTH)
            if drawn is not None:
                self.stdout.write(drawn)
                self.stdout.flush()
                return
        self.console.print(rich_table(columns, cells, title=title))

    def _pipe_without_styles(self) -> bool:
        """stdout is no terminal and rich will not draw styles on it anyway."""
        if any(os.environ.get(name) for name in _RICH_TERMINAL_VARIABLES):
            return False
        try:
            return not self.stdout.isatty()
        except ValueError:  # closed
            return False


def rich_table(columns: Sequence[str], cells: Sequence[Sequence[str]], *, title: str | None = None) -> Table:
    """The rich ``Table`` of ``cells`` (as text: no markup) under ``columns``."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in cells:
        table.add_row(*(Text(text) for text in row))
    return table
