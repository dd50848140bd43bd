"""A helper module listed in .windvaneignore: not a DAG file, not checked."""

from __future__ import annotations

GREETING = "hello"
