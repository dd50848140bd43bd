"""The DAG processor's part of the catalogue: kept apart from :mod:`windvane.metrics.catalogue`
only for size; that module adds :data:`PROCESSOR` to its ``CATALOGUE`` (and re-exports each)."""

from __future__ import annotations

from windvane.metrics.metric import Kind, Metric

C, G, H = Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM

# -- DAG processing -------------------------------------------------------------------------------
PARSE_TOTAL_TIME = Metric(
    "windvane_dag_processing_total_parse_time_seconds",
    G,
    "seconds",
    "Wall time of the latest DAG processor pass.",
    "dag_processing.total_parse_time",
)
PARSE_LAST_DURATION = Metric(
    "windvane_dag_processing_last_duration_seconds",
    G,
    "seconds",
    "Time the latest parse of each file took (a gauge in seconds on StatsD too).",
    "dag_processing.last_duration",
    ("file",),
    "dag_processing.last_duration.{file}",
)
IMPORT_ERRORS = Metric(
    "windvane_dag_processing_import_errors",
    G,
    "files",
    "DAG files with an import error now.",
    "dag_processing.import_errors",
)
DAGBAG_SIZE = Metric("windvane_dagbag_size", G, "DAGs", "Active DAGs in the store.", "dagbag_size")
PROCESSOR_TIMEOUTS = Metric(
    "windvane_dag_processing_processor_timeouts_total",
    C,
    "files",
    "Files whose parse was killed for taking longer than file_parse_timeout_seconds.",
    "dag_processing.processor_timeouts",
)
PROCESSOR_TEMPLATE_RESTARTS = Metric(
    "windvane_dag_processor_template_restarts_total",
    C,
    "processes",
    "Parse template processes found dead (killed, crashed or silent past the parse deadline) and "
    "replaced; the files being parsed are parsed again alone, what it left running is ended.",
    "dag_processing.template_restarts",
)
FILE_QUEUE_SIZE = Metric(
    "windvane_dag_processing_file_path_queue_size",
    G,
    "files",
    "Files the latest pass had to parse (new or changed).",
    "dag_processing.file_path_queue_size",
)
PROCESSOR_DB_TRANSIENT_ERRORS = Metric(
    "windvane_dag_processor_db_transient_errors_total",
    C,
    "errors",
    "Transient metadata-database errors (dropped connections, locks, a full disk) the DAG processor "
    "rode out by retrying its pass with backoff; it exits only after [database] max_outage_seconds.",
    "dag_processor.db_transient_errors",
)
PROCESSOR_HEARTBEAT = Metric(
    "windvane_dag_processor_heartbeat_total",
    C,
    "passes",
    "DAG processor passes completed.",
    "dag_processor_heartbeat",
)
PROCESSOR_LAST_RUN = Metric(
    "windvane_dag_processing_last_run_timestamp_seconds",
    G,
    "seconds",
    "Unix time the latest DAG processor pass ended.",
    "dag_processing.last_run_timestamp",
)

PROCESSOR: tuple[Metric, ...] = (
    PARSE_TOTAL_TIME,
    PARSE_LAST_DURATION,
    IMPORT_ERRORS,
    DAGBAG_SIZE,
    PROCESSOR_TIMEOUTS,
    PROCESSOR_TEMPLATE_RESTARTS,
    FILE_QUEUE_SIZE,
    PROCESSOR_DB_TRANSIENT_ERRORS,
    PROCESSOR_HEARTBEAT,
    PROCESSOR_LAST_RUN,
)
