"""Does a command's output match the output a page shows?

Both sides are compared as doctest's ``NORMALIZE_WHITESPACE | ELLIPSIS`` would: every run
of whitespace (line breaks included) is one space, so a page may wrap long lines and align
columns as it likes; ``...`` in the page stands for any text (timestamps, ids, paths).
Box-drawing characters are dropped first, so a page may show a rich table as plain columns.
"""

from __future__ import annotations

import re

_BOX = re.compile("[\u2500-\u257f]")
_SPACE = re.compile(r"\s+")
ELLIPSIS = "..."


def normalise(text: str) -> str:
    """``text`` without box-drawing characters, its whitespace runs made one space."""
    return _SPACE.sub(" ", _BOX.sub(" ", text)).strip()


def matches(shown: str, actual: str) -> bool:
    """Whether ``actual`` output fits the ``shown`` one (``...`` matching anything, even nothing)."""
    parts = [re.escape(part) for part in normalise(shown).split(ELLIPSIS)]
    pattern = r"\s*.*?\s*".join(parts)
    return re.fullmatch(pattern, normalise(actual), re.S) is not None
