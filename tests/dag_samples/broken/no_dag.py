"""Broken: a helper module in the DAGs folder that defines no DAG (and is not in .windvaneignore)."""

from __future__ import annotations


def helper() -> int:
    return 1
