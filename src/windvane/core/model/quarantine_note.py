"""How a quarantine reads in an import error, and which DAGs the import errors say are quarantined.

The scheduler (:mod:`windvane.core.scheduler.quarantine`) writes :func:`quarantine_note` as the
import error of the DAG's file; ``windvane dags list`` finds the DAG ids again with
:func:`quarantined_dag_ids` without importing the scheduler (or SQLAlchemy).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

#: Marks a quarantine note in an import error (``dags list`` looks for it).
QUARANTINE_MARK = "is quarantined by the scheduler"

_NOTE = re.compile(r"^DAG '((?:[^'\\]|\\.)*)' " + re.escape(QUARANTINE_MARK), re.MULTILINE)


def quarantine_note(dag_id: str, at: datetime, step: str, error: str) -> str:
    """The import error recording that ``dag_id`` was quarantined at ``at`` because ``step`` failed."""
    return (
        f"DAG {dag_id!r} {QUARANTINE_MARK} since {at.isoformat()}: {step} "
        f"failed:\n{error}\nFix the DAG file; the DAG is scheduled again once it changes."
    )


def quarantined_dag_ids(import_errors: Iterable[str]) -> set[str]:
    """The DAG ids that import error texts record as quarantined (for ``windvane dags list``)."""
    return {m[1] for text in import_errors for m in _NOTE.finditer(text)}
