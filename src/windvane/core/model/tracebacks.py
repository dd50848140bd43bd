"""Tracebacks of user code: what a DAG author needs to see, without Windvane's own frames.

Dependency-free (standard library only) so that a task's process can use it
without importing the database layer.
"""

from __future__ import annotations

import os
import traceback

#: Windvane's package folder (with a trailing separator): frames under it are internal.
_WINDVANE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_IMPORTLIB_PART = f"{os.sep}importlib{os.sep}"


def format_user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` without Windvane's, importlib's and runpy's frames."""
    exc = traceback.TracebackException.from_exception(error)
    _trim(exc, set())
    return "".join(exc.format()).rstrip("\n")


def _is_internal(filename: str) -> bool:
    """Windvane's own frames, importlib's (frozen or not) and runpy's."""
    if filename.startswith("<frozen"):
        return True
    path = os.path.abspath(filename)
    return path.startswith(_WINDVANE_DIR) or _IMPORTLIB_PART in path or os.path.basename(path) == "runpy.py"


def _trim(exc: traceback.TracebackException, seen: set[int]) -> None:
    if id(exc) in seen:
        return
    seen.add(id(exc))
    exc.stack = traceback.StackSummary.from_list([f for f in exc.stack if not _is_internal(f.filename)])
    for linked in (exc.__cause__, exc.__context__, *(exc.exceptions or ())):
        if linked is not None:
            _trim(linked, seen)
