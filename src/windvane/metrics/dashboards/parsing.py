"""The Parsing dashboard: are DAG files parsed, quickly and without errors?"""

from __future__ import annotations

from collections.abc import Mapping

from windvane.metrics.dashboards.model import COUNT, PER_SECOND, SECONDS, Board, Dashboard, Target, Viz
from windvane.metrics.metric import Metric


def build(by_name: Mapping[str, Metric]) -> Dashboard:
    board = Board(
        "windvane-parsing",
        "Windvane / Parsing",
        "Is the DAG processor keeping DAG files fresh, which files are slow, and which fail to import?",
        "parsing.json",
        by_name,
    )
    board.row("DAG processor")
    board.panel(
        "Import errors",
        "Are DAG files failing to import? DAG files with an import error now.",
        lambda q: [Target(q.gauge("windvane_dag_processing_import_errors", agg="max"), "files")],
        unit=COUNT,
        viz=Viz.STAT,
        width=6,
        thresholds=((1, "red"),),
    )
    board.panel(
        "Last parsed",
        "Is the DAG processor alive? Seconds since its latest pass ended.",
        lambda q: [Target(q.age("windvane_dag_processing_last_run_timestamp_seconds"), "age")],
        unit=SECONDS,
        viz=Viz.STAT,
        width=6,
        thresholds=((60, "orange"), (300, "red")),
    )
    board.panel(
        "DAGs",
        "How many DAGs are active in the store?",
        lambda q: [Target(q.gauge("windvane_dagbag_size", agg="max"), "DAGs")],
        unit=COUNT,
        viz=Viz.STAT,
        width=6,
    )
    board.panel(
        "Parse timeouts",
        "Are files killed for parsing too long? Files timed out in the selected time range.",
        lambda q: [
            Target(
                q.increase("windvane_dag_processing_processor_timeouts_total", window="$__range"), "timeouts"
            )
        ],
        unit=COUNT,
        viz=Viz.STAT,
        width=6,
        thresholds=((1, "red"),),
    )
    board.panel(
        "Total parse time",
        "How long does a full pass over the DAGs folder take? Wall time of the latest pass.",
        lambda q: [Target(q.gauge("windvane_dag_processing_total_parse_time_seconds", agg="max"), "pass")],
        unit=SECONDS,
        width=8,
    )
    board.panel(
        "Files to parse per pass",
        "How much changes between passes? Files the latest pass had to parse (new or changed).",
        lambda q: [Target(q.gauge("windvane_dag_processing_file_path_queue_size", agg="max"), "files")],
        unit=COUNT,
        width=8,
    )
    board.panel(
        "Processor passes",
        "Is the DAG processor turning? Passes per second.",
        lambda q: [Target(q.rate("windvane_dag_processor_heartbeat_total", ["instance"]), "{{instance}}")],
        unit=PER_SECOND,
        width=8,
    )
    board.row("Files")
    board.panel(
        "Slowest files",
        "Which DAG files are slowest to parse? The ten longest latest parse times.",
        lambda q: [
            Target(
                f"topk(10, {q.gauge('windvane_dag_processing_last_duration_seconds', ['file'], agg='max')})",
                "{{file}}",
                instant=True,
            )
        ],
        unit=SECONDS,
        viz=Viz.BARGAUGE,
        width=12,
    )
    board.panel(
        "Parse time per file",
        "Is a file getting slower to parse over time? Latest parse time of each file.",
        lambda q: [
            Target(q.gauge("windvane_dag_processing_last_duration_seconds", ["file"], agg="max"), "{{file}}")
        ],
        unit=SECONDS,
        width=12,
    )
    return board.build()
