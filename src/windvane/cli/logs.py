"""Windvane's own log lines on stderr, for the commands that run things.

:func:`configure_logging` may be called again (tests call ``main`` many times in
one process): it replaces the handler it installed before instead of adding
one more, and that handler writes to whatever ``sys.stderr`` is at the time.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from windvane.core.task_api.masking import MaskingFilter
from windvane.settings import Settings

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: Libraries whose INFO lines are noise here ("Context impl SQLiteImpl.").
_QUIET = ("alembic",)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """A stream handler that looks up ``sys.stderr`` on every record."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


_installed: logging.Handler | None = None


def _is_stderr_twin(handler: logging.Handler) -> bool:
    formatter = handler.formatter
    return (
        isinstance(handler, logging.StreamHandler)
        and getattr(handler, "stream", None) in (sys.stderr, sys.__stderr__)
        and formatter is not None
        and formatter._fmt == _FORMAT
    ) or type(handler).__name__ == "_StderrHandler"  # also one from a second import of this module


def configure_logging(settings: Settings, *, verbose: bool = False) -> None:
    """Log at ``logging.level`` (DEBUG with ``verbose``) to stderr."""
    global _installed
    root = logging.getLogger()
    for old in list(root.handlers):
        # ours from an earlier call, or a stderr handler with our format (a LocalExecutor worker's
        # set-up run in this process): either would print every line a second time
        if old is _installed or _is_stderr_twin(old):
            root.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(MaskingFilter())  # dags test / tasks test log what their tasks print
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else settings.logging.level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    _installed = handler
