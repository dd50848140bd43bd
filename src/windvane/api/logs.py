"""Reading a try's log file by byte ranges, for tailing over HTTP (:mod:`windvane.tasklogs.files`)."""

from __future__ import annotations

from windvane.tasklogs.files import log_path, read_chunk

__all__ = ["log_path", "read_chunk"]
