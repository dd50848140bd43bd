"""The Overview dashboard: is Windvane healthy, and is work getting done?"""

from __future__ import annotations

from collections.abc import Mapping

from windvane.metrics.dashboards.model import COUNT, PER_SECOND, RATIO, SECONDS, Board, Dashboard, Target, Viz
from windvane.metrics.metric import Metric


def build(by_name: Mapping[str, Metric]) -> Dashboard:
    board = Board(
        "windvane-overview",
        "Windvane / Overview",
        "Is the scheduler alive, are runs and tasks finishing, and is anything broken right now?",
        "overview.json",
        by_name,
    )
    board.row("Health")
    board.panel(
        "Scheduler heartbeat age",
        "Is the scheduler alive? Seconds since the newest scheduler heartbeat; above a minute it is down "
        "(not merely idle).",
        lambda q: [Target(q.age("windvane_scheduler_last_heartbeat_timestamp_seconds"), "age")],
        unit=SECONDS,
        viz=Viz.STAT,
        width=6,
        thresholds=((30, "orange"), (60, "red")),
    )
    board.panel(
        "Scheduler heartbeats",
        "Is the scheduler loop turning? Heartbeats per second; a drop to zero means it stopped.",
        lambda q: [Target(q.rate("windvane_scheduler_heartbeat_total", ["instance"]), "{{instance}}")],
        unit=PER_SECOND,
        width=6,
    )
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
        "SLA misses",
        "Are tasks missing their SLA? Task instances that missed their SLA in the selected time range.",
        lambda q: [Target(q.increase("windvane_sla_missed_total", window="$__range"), "misses")],
        unit=COUNT,
        viz=Viz.STAT,
        width=6,
        thresholds=((1, "red"),),
    )
    board.row("Work")
    board.panel(
        "Runs finished by state",
        "Are DAG runs finishing, and how many fail? Runs reaching success or failed, per second.",
        lambda q: [Target(q.observed("windvane_dagrun_duration_seconds", ["state"]), "{{state}}")],
        unit=PER_SECOND,
        width=8,
    )
    board.panel(
        "Runs in flight",
        "How many runs is the scheduler driving right now?",
        lambda q: [Target(q.gauge("windvane_scheduler_dagruns_running"), "running")],
        unit=COUNT,
        width=8,
    )
    board.panel(
        "Task tries finished by state",
        "Are tasks succeeding? Tries reaching success, failed, up_for_retry or skipped, per second.",
        lambda q: [Target(q.rate("windvane_ti_finish_total", ["state"]), "{{state}}")],
        unit=PER_SECOND,
        width=8,
    )
    board.panel(
        "Task failure ratio",
        "What share of finished tries failed (retries included)? Failed tries over all finished tries.",
        lambda q: [
            Target(f"{q.rate('windvane_ti_failures_total')} / {q.rate('windvane_ti_finish_total')}", "failed")
        ],
        unit=RATIO,
        width=12,
        thresholds=((0.1, "orange"), (0.25, "red")),
    )
    board.panel(
        "Starving tasks",
        "Is work waiting for pool slots? Ready task instances that could not be queued for lack of a slot.",
        lambda q: [Target(q.gauge("windvane_scheduler_tasks_starving"), "starving")],
        unit=COUNT,
        width=12,
    )
    return board.build()
