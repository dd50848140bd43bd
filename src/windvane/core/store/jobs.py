"""Jobs: one row per running Windvane process (scheduler, DAG processor, ...),
kept alive by heartbeats so that others can tell when it died."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, insert, select, update

from windvane.core.store._time import from_db, to_db
from windvane.core.store.tables import job
from windvane.errors import NotFoundError


class JobState(StrEnum):
    """A job is running until it ends (success) or is found dead (failed)."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class JobRow:
    """One job. Datetimes are aware UTC."""

    id: int
    job_type: str
    state: str
    hostname: str | None
    pid: int | None
    start_date: datetime
    end_date: datetime | None
    latest_heartbeat: datetime


def start_job(
    conn: Connection, job_type: str, *, hostname: str | None, pid: int | None, now: datetime
) -> int:
    """Record a running job started ``now``; its id."""
    at = to_db(now, f"start of {job_type} job")
    stmt = (
        insert(job)
        .values(
            job_type=job_type,
            state=JobState.RUNNING.value,
            hostname=hostname,
            pid=pid,
            start_date=at,
            latest_heartbeat=at,
        )
        .returning(job.c.id)
    )
    job_id: int = conn.execute(stmt).scalar_one()
    return job_id


def heartbeat(
    conn: Connection,
    job_id: int,
    now: datetime,
    *,
    loop_p95_seconds: float | None = None,
    loop_samples: int | None = None,
) -> JobState:
    """Record that job ``job_id`` is alive at ``now``; its state, so that a job
    another process declared dead (failed) can notice and stop. A scheduler passes its loop
    timing (the 95th percentile of its recent passes and how many passes that is), written in
    the same statement."""
    values: dict[str, object] = {"latest_heartbeat": to_db(now, f"heartbeat of job {job_id}")}
    if loop_samples is not None:
        values.update(loop_p95_seconds=loop_p95_seconds, loop_samples=loop_samples)
    stmt = update(job).where(job.c.id == job_id).values(values).returning(job.c.state)
    state = conn.execute(stmt).scalar_one_or_none()
    if state is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return JobState(state)


def finish_job(conn: Connection, job_id: int, *, now: datetime, state: JobState = JobState.SUCCESS) -> None:
    """Mark job ``job_id`` ended at ``now`` in ``state`` (success, or failed for a dead job)."""
    stmt = (
        update(job)
        .where(job.c.id == job_id)
        .values(state=state.value, end_date=to_db(now, f"end of job {job_id}"))
    )
    if conn.execute(stmt).rowcount == 0:
        raise NotFoundError(f"job {job_id} does not exist")


def dead_jobs(conn: Connection, job_type: str, threshold: timedelta, now: datetime) -> list[JobRow]:
    """Running jobs of ``job_type`` whose latest heartbeat is older than ``now - threshold``, oldest first."""
    cutoff = to_db(now - threshold, "dead-job cutoff")
    stmt = (
        select(job)
        .where(
            job.c.job_type == job_type, job.c.state == JobState.RUNNING.value, job.c.latest_heartbeat < cutoff
        )
        .order_by(job.c.latest_heartbeat, job.c.id)
    )
    return [
        JobRow(
            id=r["id"],
            job_type=r["job_type"],
            state=r["state"],
            hostname=r["hostname"],
            pid=r["pid"],
            start_date=from_db(r["start_date"]),
            end_date=from_db(r["end_date"]),
            latest_heartbeat=from_db(r["latest_heartbeat"]),
        )
        for r in conn.execute(stmt).mappings()
    ]
