"""The CLI's logging set-up may run many times in one process (tests call ``main`` again and
again): each line must still reach stderr once."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from windvane.cli.logs import _FORMAT, configure_logging
from windvane.settings import load_settings


def test_a_stderr_handler_with_our_format_left_behind_does_not_double_every_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(home=tmp_path)
    root = logging.getLogger()
    before = list(root.handlers)
    leftover = logging.StreamHandler(sys.stderr)  # as a LocalExecutor worker's set-up installs
    leftover.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(leftover)
    try:
        configure_logging(settings)
        configure_logging(settings)
        logging.getLogger("windvane.task").warning("once only")
        assert capsys.readouterr().err.count("once only") == 1
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
