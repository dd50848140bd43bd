"""What ``/health`` and the UI's health panel report, read from the metadata database only (no
Prometheus needed): the scheduler's and DAG processor's heartbeats, the scheduler's own loop p95
(written to its job row with each heartbeat), queue depth, open pool slots and import errors.

Every count is served by an index on active rows (``ix_task_instance_active``) or a small table,
so ``/health`` stays cheap enough for a load balancer to probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from windvane.api.schemas import HealthCounts, Heartbeat
from windvane.core.store import listing
from windvane.core.store.tables import import_error, slot_pool, task_instance

#: Job types whose heartbeats are reported.
SCHEDULER_JOB, PROCESSOR_JOB = "scheduler", "dag_processor"
#: Task instance states that hold pool slots (Airflow counts queued tries as occupying too).
OCCUPYING = ("queued", "running")


@dataclass(frozen=True)
class HealthReading:
    scheduler: Heartbeat
    dag_processor: Heartbeat
    counts: HealthCounts


def beat(at: datetime | None, now: datetime, limit: float) -> Heartbeat:
    """A heartbeat judged against ``limit`` seconds: healthy, unhealthy, or unknown (no job)."""
    if at is None:
        return Heartbeat(status="unknown", latest_heartbeat=None, heartbeat_age_seconds=None)
    age = max(0.0, (now - at).total_seconds())
    return Heartbeat(
        status="healthy" if age <= limit else "unhealthy", latest_heartbeat=at, heartbeat_age_seconds=age
    )


def occupied_slots(conn: Connection) -> dict[tuple[str, str], int]:
    """Pool slots held, by (pool, state) for the occupying states."""
    rows = conn.execute(
        select(task_instance.c.pool, task_instance.c.state, func.sum(task_instance.c.pool_slots))
        .where(task_instance.c.state.in_(OCCUPYING))
        .group_by(task_instance.c.pool, task_instance.c.state)
    ).all()
    return {(p, st): int(n or 0) for p, st, n in rows}


def read_health(conn: Connection, now: datetime, limit: float) -> HealthReading:
    """Heartbeats (judged against ``limit`` seconds) and the counts, in one read transaction."""
    scheduler = listing.newest_job_beat(conn, SCHEDULER_JOB)
    processor = listing.newest_job_beat(conn, PROCESSOR_JOB)
    counts: dict[str, int] = dict(
        conn.execute(
            select(task_instance.c.state, func.count())
            .where(task_instance.c.state.in_(("queued", "scheduled", "running")))
            .group_by(task_instance.c.state)
        ).all()
    )
    occupied: dict[str, int] = {}
    for (pool, _state), n in occupied_slots(conn).items():
        occupied[pool] = occupied.get(pool, 0) + n
    pools = conn.execute(select(slot_pool.c.pool, slot_pool.c.slots)).all()
    errors = conn.execute(select(func.count()).select_from(import_error)).scalar_one()
    return HealthReading(
        scheduler=beat(scheduler.latest_heartbeat if scheduler else None, now, limit),
        dag_processor=beat(processor.latest_heartbeat if processor else None, now, limit),
        counts=HealthCounts(
            scheduler_loop_p95_seconds=scheduler.loop_p95_seconds if scheduler else None,
            scheduler_loop_samples=scheduler.loop_samples if scheduler else None,
            queued=int(counts.get("queued", 0)),
            scheduled=int(counts.get("scheduled", 0)),
            running=int(counts.get("running", 0)),
            open_slots=sum(max(0, int(s) - occupied.get(p, 0)) for p, s in pools),
            total_slots=sum(int(s) for _p, s in pools),
            import_errors=int(errors),
        ),
    )
