"""What a scheduler is told at construction (built from settings at the edge)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SchedulerConfig:
    parallelism: int = 32
    #: How long a database outage is ridden out (retrying with backoff) before the loop exits.
    max_outage_seconds: float = 300.0
    #: Longest the event-driven loop sleeps when nothing happens.
    idle_sleep_seconds: float = 1.0
    #: How often the DB is polled for what others changed (triggers, clears, pauses, new DAGs).
    poll_interval_seconds: float = 0.5
    heartbeat_seconds: float = 5.0
    health_check_threshold_seconds: float = 30.0
    task_heartbeat_timeout_seconds: float = 300.0
    zombie_check_interval_seconds: float = 10.0
    #: A try queued longer than this is failed (Airflow's ``task_queued_timeout``); looked for with
    #: the zombies, every ``zombie_check_interval_seconds``.
    task_queued_timeout_seconds: float = 600.0
    max_dagruns_to_create_per_loop: int = 10
    max_tis_per_query: int = 512
    #: Only drive these run ids (backfill mode); None drives every non-backfill run.
    only_runs: Collection[int] | None = None
    #: With only_runs: at most this many of them run at once.
    backfill_max_active_runs: int | None = None
    #: Several schedulers may share the database (PostgreSQL): drive only the runs this scheduler owns
    #: (``dag_run.scheduled_by_job_id``), take over those of dead schedulers, count pool and DAG
    #: limits over every scheduler's tries under a lock. The CLI turns it on for PostgreSQL.
    coordinated: bool = False
    #: Run types this scheduler creates and drives.
    run_types: tuple[str, ...] = field(default=("scheduled", "manual"))
