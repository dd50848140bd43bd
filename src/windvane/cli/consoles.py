"""The rich consoles of :class:`~windvane.cli.output.Output`, imported only when one is needed (rich
costs a listing's start-up more than its query: ``bench/cli_startup.py``)."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console

from windvane.cli.box_table import PIPE_WIDTH


class _Console(Console):
    """A rich console that lets a closed pipe surface as ``BrokenPipeError``.

    Rich's own handling exits with code 1; :func:`windvane.cli.main.main` ends quietly with 141.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def console_for(stream: TextIO) -> Console:
    """A console printing to ``stream``: no markup, highlighting or emoji codes; on a pipe as wide as
    :data:`PIPE_WIDTH`, without wrapping."""
    tty = stream.isatty()
    return _Console(
        file=stream,
        width=None if tty else PIPE_WIDTH,
        markup=False,
        highlight=False,
        emoji=False,
        soft_wrap=not tty,
    )
