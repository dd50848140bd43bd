"""The Executor & pools dashboard: is there capacity, and how long does work wait for it?"""

from __future__ import annotations

from collections.abc import Mapping

from windvane.metrics.dashboards.model import COUNT, SECONDS, Board, Dashboard, Target
from windvane.metrics.metric import Metric


def build(by_name: Mapping[str, Metric]) -> Dashboard:
    board = Board(
        "windvane-executor",
        "Windvane / Executor & pools",
        "Does the executor have free slots, which pools are full, and how long do tasks wait to start?",
        "executor.json",
        by_name,
        variables=("instance", "pool"),
    )
    board.row("Executor")
    board.panel(
        "Executor slots",
        "Can the executor take more work? Open, queued and running slots per executor.",
        lambda q: [
            Target(q.gauge("windvane_executor_open_slots", ["executor"]), "open {{executor}}"),
            Target(q.gauge("windvane_executor_queued_tasks", ["executor"]), "queued {{executor}}"),
            Target(q.gauge("windvane_executor_running_tasks", ["executor"]), "running {{executor}}"),
        ],
        unit=COUNT,
        width=12,
    )
    board.panel(
        "Queued -> running latency p95",
        "How long does the executor take to start a queued try? p95 per DAG; high means workers are short.",
        lambda q: [
            Target(q.quantile(0.95, "windvane_task_queued_duration_seconds", ["dag_id"]), "{{dag_id}}")
        ],
        unit=SECONDS,
        width=12,
    )
    board.panel(
        "Waiting for a slot p95",
        "How long do ready task instances wait to be queued (pool, concurrency and parallelism limits)? "
        "p95 per DAG.",
        lambda q: [
            Target(q.quantile(0.95, "windvane_task_scheduled_duration_seconds", ["dag_id"]), "{{dag_id}}")
        ],
        unit=SECONDS,
        width=24,
    )
    board.row("Pools")
    board.panel(
        "Pool slots",
        "How full is each pool? Open, queued and running slots per pool.",
        lambda q: [
            Target(q.gauge("windvane_pool_open_slots", ["pool"]), "open {{pool}}"),
            Target(q.gauge("windvane_pool_queued_slots", ["pool"]), "queued {{pool}}"),
            Target(q.gauge("windvane_pool_running_slots", ["pool"]), "running {{pool}}"),
        ],
        unit=COUNT,
        width=12,
    )
    board.panel(
        "Starving tasks per pool",
        "Which pool is too small? Ready task instances waiting because their pool has no free slot.",
        lambda q: [Target(q.gauge("windvane_pool_starving_tasks", ["pool"]), "{{pool}}")],
        unit=COUNT,
        width=12,
        thresholds=((1, "orange"),),
    )
    return board.build()
