"""The module name a DAG file is imported under (by the DAG processor and by workers).

Dependency-free, so a worker can import DAG files without the processor package.
"""

from __future__ import annotations

import hashlib
import os
import re

_NON_WORD = re.compile(r"\W")


def module_name_for(path: str) -> str:
    """A module name unique to ``path`` (so two ``dag.py`` files do not collide)."""
    digest = hashlib.sha1(path.encode()).hexdigest()[:16]
    stem = _NON_WORD.sub("_", os.path.splitext(os.path.basename(path))[0])
    return f"windvane_dagfile_{digest}_{stem}"
