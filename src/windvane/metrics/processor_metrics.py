"""Turning a DAG processor pass (:class:`~windvane.core.processor.report.ParseReport`) into metrics.

Call a :class:`ProcessorMetrics` with each report ``DagProcessor.run_once()``
returns. Totals that outlive one pass (files with import errors, active DAGs)
are read from the store with two ``count(*)`` queries per pass. ``file``
labels are paths relative to the DAGs folder, bounded by the number of files;
the series of a file the pass no longer lists are forgotten.
"""

from __future__ import annotations

import logging
import os

from sqlalchemy import Engine, func, select

from windvane.core.model.clock import Clock, SystemClock
from windvane.core.processor.report import ParseReport
from windvane.core.store.engine import begin_read
from windvane.core.store.tables import dag, import_error
from windvane.metrics import catalogue as m
from windvane.metrics.sink import MetricsSink
from windvane.metrics.subscriber import wall_clock

log = logging.getLogger("windvane.metrics")


class ProcessorMetrics:
    """DAG processing metrics into ``sink``; ``engine`` is the store the processor writes to."""

    def __init__(
        self,
        sink: MetricsSink,
        engine: Engine,
        *,
        dags_folder: str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.sink = sink
        self.engine = engine
        self.dags_folder = os.path.abspath(dags_folder) if dags_folder is not None else None
        self._now = wall_clock(clock or SystemClock())

    def __call__(self, report: ParseReport) -> None:
        self.record(report)

    def database_error(self) -> None:
        """Count one transient database error of the DAG processor's loop."""
        self.sink.incr(m.PROCESSOR_DB_TRANSIENT_ERRORS)

    def record(self, report: ParseReport) -> None:
        """Emit the metrics of one pass; never raises (a failed count query is logged)."""
        self.sink.hold()
        try:
            self._record(report)
        finally:
            self.sink.flush()

    def _record(self, report: ParseReport) -> None:
        s = self.sink
        s.gauge(m.PARSE_TOTAL_TIME, report.total_parse_time)
        s.gauge(m.FILE_QUEUE_SIZE, report.parsed)
        for path, seconds in report.durations.items():
            s.gauge(m.PARSE_LAST_DURATION, seconds, file=self.file_label(path))
        # Files deleted (or no longer DAG files) since: their series go.
        s.retain("file", {self.file_label(path) for path in (*report.dag_files, *report.durations)})
        if report.timed_out:
            s.incr(m.PROCESSOR_TIMEOUTS, report.timed_out)
        if report.template_restarts:
            s.incr(m.PROCESSOR_TEMPLATE_RESTARTS, report.template_restarts)
        try:
            with begin_read(self.engine) as conn:
                errors = conn.execute(select(func.count()).select_from(import_error)).scalar_one()
                dags = conn.execute(select(func.count()).select_from(dag).where(dag.c.is_active)).scalar_one()
        except Exception:
            log.warning("could not count import errors and DAGs for metrics", exc_info=True)
        else:
            s.gauge(m.IMPORT_ERRORS, errors)
            s.gauge(m.DAGBAG_SIZE, dags)
        s.incr(m.PROCESSOR_HEARTBEAT)
        s.gauge(m.PROCESSOR_LAST_RUN, self._now())

    def file_label(self, path: str) -> str:
        """``path`` relative to the DAGs folder (its base name when outside it)."""
        if self.dags_folder is not None:
            rel = os.path.relpath(os.path.abspath(path), self.dags_folder)
            if not rel.startswith(os.pardir):
                return rel.replace(os.sep, "/")
        return os.path.basename(path)
