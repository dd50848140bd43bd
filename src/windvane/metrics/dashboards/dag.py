"""The DAG drill-down dashboard: how does one DAG (and its tasks) behave?"""

from __future__ import annotations

from collections.abc import Mapping

from windvane.metrics.dashboards.model import COUNT, PER_SECOND, SECONDS, Board, Dashboard, Target
from windvane.metrics.metric import Metric


def build(by_name: Mapping[str, Metric]) -> Dashboard:
    board = Board(
        "windvane-dag",
        "Windvane / DAG drill-down",
        "For the selected DAGs and tasks: how long do runs and tasks take, and what fails, retries or misses "
        "its SLA?",
        "dag.json",
        by_name,
        variables=("instance", "dag_id", "task_id"),
    )
    board.row("Runs")
    board.panel(
        "Run duration p95",
        "How long do runs of this DAG take, successful and failed apart? p95 per DAG and state.",
        lambda q: [
            Target(
                q.quantile(0.95, "windvane_dagrun_duration_seconds", ["dag_id", "state"]),
                "{{dag_id}} {{state}}",
            )
        ],
        unit=SECONDS,
        width=12,
    )
    board.panel(
        "Runs finished by state",
        "How many runs of this DAG succeed or fail? Runs finished per second, per DAG and state.",
        lambda q: [
            Target(
                q.observed("windvane_dagrun_duration_seconds", ["dag_id", "state"]), "{{dag_id}} {{state}}"
            )
        ],
        unit=PER_SECOND,
        width=12,
    )
    board.panel(
        "Schedule delay and first task delay p95",
        "Does this DAG start late? p95 from falling due to run created, and to its first task queued "
        "(backfills excluded).",
        lambda q: [
            Target(
                q.quantile(0.95, "windvane_dagrun_schedule_delay_seconds", ["dag_id"]), "created {{dag_id}}"
            ),
            Target(
                q.quantile(
                    0.95,
                    "windvane_dagrun_first_task_scheduling_delay_seconds",
                    ["dag_id"],
                    run_type="!backfill",
                ),
                "first task {{dag_id}}",
            ),
        ],
        unit=SECONDS,
        width=24,
    )
    board.row("Tasks")
    board.panel(
        "Task duration p95",
        "Which task is slow? p95 of a try's duration per task.",
        lambda q: [
            Target(
                q.quantile(0.95, "windvane_task_duration_seconds", ["dag_id", "task_id"]),
                "{{dag_id}}.{{task_id}}",
            )
        ],
        unit=SECONDS,
        width=12,
    )
    board.panel(
        "Task failures",
        "Which task fails? Failed tries per second per task (tries that will be retried included).",
        lambda q: [
            Target(q.rate("windvane_ti_failures_total", ["dag_id", "task_id"]), "{{dag_id}}.{{task_id}}")
        ],
        unit=PER_SECOND,
        width=12,
    )
    board.panel(
        "Task retries",
        "Which task needs retries to get through? Tries ending up_for_retry, per second per task.",
        lambda q: [
            Target(
                q.rate("windvane_ti_finish_total", ["dag_id", "task_id"], state="up_for_retry"),
                "{{dag_id}}.{{task_id}}",
            )
        ],
        unit=PER_SECOND,
        width=12,
    )
    board.panel(
        "SLA misses",
        "Which task misses its SLA? Task instances that missed their SLA, per task, in each interval.",
        lambda q: [
            Target(q.increase("windvane_sla_missed_total", ["dag_id", "task_id"]), "{{dag_id}}.{{task_id}}")
        ],
        unit=COUNT,
        width=12,
    )
    return board.build()
