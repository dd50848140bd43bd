"""The DAG processor: parses DAG files in forked children and stores serialized DAGs.

See :class:`DagProcessor`. The scheduler never imports user code; it reads
what this package writes to the ``dag``, ``dag_file`` and ``import_error``
tables.

May import: the authoring, store, forking, model and timetables floors (a parse
child imports user code; this process does not); never the scheduler or executors.
"""

from __future__ import annotations

from windvane.core.processor.manager import DagProcessor
from windvane.core.processor.report import ParseReport

__all__ = ["DagProcessor", "ParseReport"]
