"""The DAG processor: parses DAG files in forked children and stores serialized DAGs.

See :class:`DagProcessor`. The scheduler never imports user code; it reads
what this package writes to the ``dag``, ``dag_file`` and ``import_error``
tables.

May import: the authoring, store, forking, model and timetables floors (a parse
child imports user code; this process does not), and the worker's secrets setup
(in a parse child that reads a Connection or Variable); never the scheduler or
executors. The parse template (:mod:`.template`) imports this package: it stays
light (:class:`DagProcessor` is imported on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from windvane.core.processor.manager import DagProcessor
    from windvane.core.processor.report import ParseReport

__all__ = ["DagProcessor", "ParseReport"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the parse template (:mod:`.template`) imports this package and must
    # not pull in the manager, SQLAlchemy and the store with it.
    if name == "DagProcessor":
        from windvane.core.processor.manager import DagProcessor

        return DagProcessor
    if name == "ParseReport":
        from windvane.core.processor.report import ParseReport

        return ParseReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
