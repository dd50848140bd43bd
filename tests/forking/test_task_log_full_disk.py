"""Issue 12, defect 5: a task that logs (rather than prints) onto a full disk fails its try naming
the error; before, logging's default swallowed it and the lines were silently lost."""

from __future__ import annotations

import errno
import io
import logging

import pytest

from windvane.core.worker.task_log import _TaskLogHandler


class _FullDisk(io.StringIO):
    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code

    def write(self, text: str) -> int:
        raise OSError(self.code, "No space left on device")


def _logger(stream: io.StringIO) -> logging.Logger:
    handler = _TaskLogHandler(stream)
    logger = logging.getLogger(f"test.full_disk.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    return logger


def test_a_log_record_that_meets_a_full_disk_fails_the_logging_call() -> None:
    with pytest.raises(OSError) as info:
        _logger(_FullDisk(errno.ENOSPC)).warning("loading batch 7")
    assert info.value.errno == errno.ENOSPC


def test_other_write_errors_keep_loggings_default(capsys: pytest.CaptureFixture[str]) -> None:
    _logger(_FullDisk(errno.EBADF)).warning("loading batch 7")  # does not raise
    assert "Logging error" in capsys.readouterr().err


def test_windvanes_own_records_keep_the_default_so_the_try_still_reports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = _TaskLogHandler(_FullDisk(errno.ENOSPC))
    logger = logging.getLogger("windvane.task")
    logger.addHandler(handler)
    try:
        logger.error("task failed")  # does not raise: the outcome must still reach the worker
    finally:
        logger.removeHandler(handler)
    assert "Logging error" in capsys.readouterr().err
