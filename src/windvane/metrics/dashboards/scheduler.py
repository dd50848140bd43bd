"""The Scheduler dashboard: how fast does the loop turn, and how late does work start?"""

from __future__ import annotations

from collections.abc import Mapping

from windvane.metrics.dashboards.model import COUNT, PER_SECOND, SECONDS, Board, Dashboard, Target
from windvane.metrics.metric import Metric

LOOP = "windvane_scheduler_loop_duration_seconds"
CRITICAL = "windvane_scheduler_critical_section_duration_seconds"


def build(by_name: Mapping[str, Metric]) -> Dashboard:
    board = Board(
        "windvane-scheduler",
        "Windvane / Scheduler",
        "Is the scheduler loop fast enough, what holds work back, and how late do runs and tasks start?",
        "scheduler.json",
        by_name,
    )
    board.row("Loop")
    board.panel(
        "Loop duration p50 / p95",
        "How long does one scheduler pass take? A rising p95 delays every run and task.",
        lambda q: [Target(q.quantile(0.5, LOOP), "p50"), Target(q.quantile(0.95, LOOP), "p95")],
        unit=SECONDS,
        width=8,
    )
    board.panel(
        "Critical section p50 / p95",
        "How long does a pass hold the write transaction that queues work? Long ones block other schedulers.",
        lambda q: [Target(q.quantile(0.5, CRITICAL), "p50"), Target(q.quantile(0.95, CRITICAL), "p95")],
        unit=SECONDS,
        width=8,
    )
    board.panel(
        "Heartbeats",
        "Is each scheduler alive? Heartbeats per second, per instance.",
        lambda q: [Target(q.rate("windvane_scheduler_heartbeat_total", ["instance"]), "{{instance}}")],
        unit=PER_SECOND,
        width=8,
    )
    board.panel(
        "DB queries per pass",
        "Is the database load per pass growing? SQL statements per pass: mean and p95.",
        lambda q: [
            Target(q.mean("windvane_scheduler_loop_db_queries"), "mean"),
            Target(q.quantile(0.95, "windvane_scheduler_loop_db_queries"), "p95"),
        ],
        unit=COUNT,
        width=8,
    )
    board.panel(
        "DB time per pass p95",
        "Is the database the bottleneck? Time one pass spent in SQL statements (p95) next to the whole pass.",
        lambda q: [
            Target(q.quantile(0.95, "windvane_scheduler_loop_db_duration_seconds"), "db p95"),
            Target(q.quantile(0.95, LOOP), "loop p95"),
        ],
        unit=SECONDS,
        width=8,
    )
    board.panel(
        "Tasks queued per pass p95",
        "How much does one pass hand to the executor? Task instances queued per pass (p95).",
        lambda q: [Target(q.quantile(0.95, "windvane_scheduler_loop_queued_tasks"), "p95")],
        unit=COUNT,
        width=8,
    )
    board.row("What holds work back")
    board.panel(
        "Executable, starving and waiting tasks",
        "Why isn't work running? Task instances the latest pass queued (executable), could not queue for "
        "lack of a pool slot (starving) and left waiting (scheduled backlog).",
        lambda q: [
            Target(q.gauge("windvane_scheduler_tasks_executable"), "executable"),
            Target(q.gauge("windvane_scheduler_tasks_starving"), "starving"),
            Target(q.gauge("windvane_scheduler_tasks_scheduled"), "scheduled"),
        ],
        unit=COUNT,
        width=12,
    )
    board.panel(
        "Runs created",
        "Is the scheduler creating the runs that fall due? Scheduled runs created per second.",
        lambda q: [Target(q.rate("windvane_scheduler_dagruns_created_total"), "created")],
        unit=PER_SECOND,
        width=12,
    )
    board.panel(
        "Zombies and externally killed tries",
        "Are workers dying? Tries failed as zombies or ended without their outcome recorded, per second.",
        lambda q: [
            Target(q.rate("windvane_scheduler_zombies_killed_total"), "zombies"),
            Target(q.rate("windvane_scheduler_tasks_killed_externally_total"), "killed externally"),
        ],
        unit=PER_SECOND,
        width=24,
    )
    board.row("Latency")
    board.panel(
        "Schedule delay p95",
        "How late are scheduled runs created after they fall due? p95 over all DAGs (scheduled runs only).",
        lambda q: [Target(q.quantile(0.95, "windvane_dagrun_schedule_delay_seconds"), "p95")],
        unit=SECONDS,
        width=12,
        thresholds=((60, "orange"), (300, "red")),
    )
    board.panel(
        "First task scheduling delay p95 (without backfill)",
        "How long after a run falls due (or starts) is its first task queued? p95 by run type, backfills "
        "excluded since they are late by design.",
        lambda q: [
            Target(
                q.quantile(
                    0.95,
                    "windvane_dagrun_first_task_scheduling_delay_seconds",
                    ["run_type"],
                    run_type="!backfill",
                ),
                "{{run_type}}",
            )
        ],
        unit=SECONDS,
        width=12,
    )
    return board.build()
