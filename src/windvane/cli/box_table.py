"""A table exactly as rich prints one to a pipe, without importing rich.

:meth:`windvane.cli.output.Output.rows` prints most tables to pipes and files (scripts, ``| grep``,
``bench/cli_startup.py``) where rich draws no colours and wraps nothing: a heavy-headed box whose
columns are as wide as their widest cell, one space of padding. :func:`box_table` draws that
box itself when every cell is plain printable ASCII (one character, one column), and returns None
otherwise (wide or combining characters, line breaks, a table wider than the pipe width): then
rich draws it. ``tests/cli/test_box_table.py`` checks the two agree on generated tables.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Width used when stdout is not a terminal: wide enough that tables never wrap in pipes and logs.
PIPE_WIDTH = 4000


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable()


def box_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, max_width: int) -> str | None:
    """The lines of the table (with a final newline), or None when rich should draw it."""
    if not headers or not all(_plain(cell) for row in (headers, *rows) for cell in row):
        return None
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    if sum(widths) + 3 * len(widths) + 1 > max_width:
        return None

    def rule(left: str, fill: str, cross: str, right: str) -> str:
        return left + cross.join(fill * (width + 2) for width in widths) + right

    def line(cells: Sequence[str], bar: str) -> str:
        return (
            bar + bar.join(f" {cell.ljust(width)} " for cell, width in zip(cells, widths, strict=True)) + bar
        )

    lines = [rule("┏", "━", "┳", "┓"), line(headers, "┃"), rule("┡", "━", "╇", "┩")]
    lines += [line(row, "│") for row in rows]
    lines.append(rule("└", "─", "┴", "┘"))
    return "\n".join(lines) + "\n"
