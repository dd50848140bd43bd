"""The log file of one try: its header (written by the worker), then everything the try prints.

``{log_folder}/dag_id=<d>/run_id=<r>/task_id=<t>/attempt=<n>.log`` (see
:func:`windvane.core.worker.runner.log_path_for`). The worker creates it with a
header line naming the try; the try's process then sends its fd 1 and 2,
``sys.stdout``/``sys.stderr`` and logging there (:func:`redirect_output`).
The handler and loggers the child reconfigures are made once, in the worker,
so a child only points them at its new stream. ``sys.stdout`` and ``sys.stderr`` (and so
logging) mask every secret the try was handed
(:class:`~windvane.core.task_api.masking.MaskedStream`): what a task prints, logs or raises
reaches the file with its Connection passwords and sensitive Variables as ``***``.
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import io
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO, cast

from windvane.core.task_api.masking import MaskedStream, masker

if TYPE_CHECKING:
    from windvane.core.model.workload import Workload

LOG_FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"
#: Loggers whose handlers a task's log replaces (root last: it keeps the one to the log file).
_REDIRECTED_LOGGERS = tuple(logging.getLogger(name) for name in ("windvane.task", "windvane", ""))
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


#: Errors that mean the log file cannot take more (a full disk or quota), not a bad record.
_LOG_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class _TaskLogHandler(logging.StreamHandler[TextIO]):
    """The root handler of a try; made once per worker, pointed at each child's stderr.

    A task's record that cannot be written because the disk is full fails the logging call (and
    so the try, naming the error) as ``print`` does, instead of logging's default of a note on stderr
    (the log itself) and the line silently lost. Any other failing record keeps that default.
    """

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        own = record.name == "windvane" or record.name.startswith("windvane.")
        # Windvane's own records keep the default: the try must still report how it ended.
        if not own and isinstance(error, OSError) and error.errno in _LOG_FULL:
            raise error
        super().handleError(record)


_HANDLER = _TaskLogHandler()
_HANDLER.setFormatter(logging.Formatter(LOG_FORMAT))


def write_header(log_path: str, workload: Workload, hostname: str) -> None:
    """Create the log file (and its folders) with its first line, naming the try."""
    header = (
        f"*** {workload.dag_id}.{workload.task_id} run {workload.run_id} try {workload.try_number} "
        f"(of {workload.max_tries + 1}) on {hostname}, "
        f"started {datetime.now(UTC).isoformat(timespec='seconds')}\n"
    ).encode()
    fd = _open_log(log_path)
    try:
        os.write(fd, header)
    finally:
        os.close(fd)


def append_line(log_path: str, line: str) -> None:
    """Add ``*** line`` to the log, on a line of its own even when the try's last output had no
    newline (best effort: a log that cannot be written loses the line)."""
    with contextlib.suppress(OSError), open(log_path, "a+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(size - 1, 0))
        newline = b"" if size == 0 or handle.read(1) == b"\n" else b"\n"
        handle.write(newline + f"*** {line}\n".encode())


def redirect_output(log_path: str) -> None:
    """In the try's process: fd 1 and 2, ``sys.stdout``/``sys.stderr`` and logging (the root
    logger at INFO) go to the log file, secrets masked; fd 0 reads ``/dev/null``."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)
    stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
    stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
    sys.stdout = MaskedStream(stdout)
    sys.stderr = MaskedStream(stderr)
    faulthandler.enable(file=stderr)  # a segfault's Python traceback lands in the log too
    if logging.root.manager.disable:
        logging.disable(logging.NOTSET)
    # Only the loggers Windvane configures; walking every logger would copy pages for nothing.
    for logger in _REDIRECTED_LOGGERS:
        if logger.handlers:
            for old in list(logger.handlers):
                logger.removeHandler(old)
        logger.propagate = True
    _HANDLER.stream = cast("TextIO", sys.stderr)  # not setStream: it would flush the worker's buffer
    root = logging.getLogger()
    root.addHandler(_HANDLER)
    if root.level != logging.INFO:  # setLevel clears every logger's cache: only when needed
        root.setLevel(logging.INFO)


def scrub_log(log_path: str) -> None:
    """Mask, in the file, the secrets this process was handed: what bypassed ``sys.stdout`` (a
    subprocess or C code writing to fd 1 or 2 directly). Called by the try's process when it ends
    (all of its output flushed); costs nothing for a try that was handed no secret."""
    if not len(masker()):
        return
    with contextlib.suppress(OSError), open(log_path, "r+b") as handle:
        raw = handle.read()
        text = raw.decode("utf-8", errors="surrogateescape")
        masked = masker().redact(text)
        if masked != text:
            handle.seek(0)
            handle.write(masked.encode("utf-8", errors="surrogateescape"))
            handle.truncate()


def _open_log(log_path: str) -> int:
    """Open for appending, creating the file's folders only when it is not there (3 system calls
    for a task's first try, 1 after)."""
    try:
        return os.open(log_path, _FLAGS, 0o666)
    except FileNotFoundError:
        pass
    folder = os.path.dirname(log_path)
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
    return os.open(log_path, _FLAGS, 0o666)


class LogCap:
    """Keeps one try's log file under ``max_bytes`` (``[logging] max_log_bytes``): once it is
    larger, :meth:`check` truncates it to ``max_bytes`` and appends a marker line, and from then
    on cuts whatever was written after the marker. Called by the worker while the try runs
    (every second) and once when it ended; output between two checks is written, then cut."""

    __slots__ = ("_limit", "max_bytes", "path", "truncated")

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.truncated = False
        self._limit = max_bytes

    def marker(self) -> bytes:
        """The line that ends a truncated log."""
        return (
            f"\n*** log truncated: this try wrote more than {self.max_bytes} bytes "
            "([logging] max_log_bytes); the rest of its output was dropped\n"
        ).encode()

    def check(self) -> bool:
        """Cut the file back to the cap if it grew past it; True when it did."""
        try:
            size = os.stat(self.path).st_size
        except OSError:
            return False
        if size <= self._limit:
            return False
        os.truncate(self.path, self._limit)
        if not self.truncated:
            self.truncated = True
            marker = self.marker()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, marker)
            finally:
                os.close(fd)
            self._limit = self.max_bytes + len(marker)
        return True
