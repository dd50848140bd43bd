"""What a run id may be: the characters and length that keep it one safe file-name component.

A run id names a folder of the task logs (``run_id=<run id>``), so it must not hold a path
separator, and ``run_id=`` plus the id must fit in one file name (255 bytes on Linux and macOS).
The pattern is Airflow's ``RUN_ID_REGEX`` character set: ASCII letters, digits and ``_ . ~ : + -``
(every generated id, ``manual__2024-01-01T00:00:00+00:00``, fits it).
"""

from __future__ import annotations

import re

from windvane.errors import InvalidRunIdError

#: Longest run id: 255 bytes of a file name minus ``run_id=``.
MAX_RUN_ID_LENGTH = 248
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_.~:+-]+")
RUN_ID_RULE = f"1 to {MAX_RUN_ID_LENGTH} characters of A-Z, a-z, 0-9 and _ . ~ : + -"


def check_run_id(run_id: object) -> str:
    """``run_id`` if it follows :data:`RUN_ID_RULE`, else an :class:`InvalidRunIdError` naming it."""
    if not isinstance(run_id, str):
        raise InvalidRunIdError(f"a run id must be a string, not {type(run_id).__name__}")
    if len(run_id) > MAX_RUN_ID_LENGTH or RUN_ID_PATTERN.fullmatch(run_id) is None:
        shown = run_id if len(run_id) <= 80 else f"{run_id[:60]}... ({len(run_id)} characters)"
        raise InvalidRunIdError(f"invalid run id {shown!r}: use {RUN_ID_RULE}")
    return run_id
