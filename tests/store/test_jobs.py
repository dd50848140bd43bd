from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tests.store.helpers import T0
from windvane.core.store.jobs import JobState, dead_jobs, finish_job, heartbeat, start_job
from windvane.errors import NotFoundError


def test_job_lifecycle_and_dead_jobs(engine: Engine) -> None:
    minute = timedelta(minutes=1)
    with engine.begin() as conn:
        alive = start_job(conn, "scheduler", hostname="h1", pid=10, now=T0)
        silent = start_job(conn, "scheduler", hostname="h2", pid=11, now=T0)
        done = start_job(conn, "scheduler", hostname="h3", pid=12, now=T0)
        other = start_job(conn, "dag_processor", hostname="h4", pid=13, now=T0)
        assert len({alive, silent, done, other}) == 4
        assert heartbeat(conn, alive, T0 + 5 * minute) is JobState.RUNNING
        finish_job(conn, done, now=T0 + minute)

        dead = dead_jobs(conn, "scheduler", timedelta(seconds=90), T0 + 5 * minute)
        assert [j.id for j in dead] == [silent]
        assert (dead[0].hostname, dead[0].pid, dead[0].state) == ("h2", 11, "running")
        assert dead[0].latest_heartbeat == dead[0].start_date == T0
        assert dead[0].end_date is None
        assert dead_jobs(conn, "scheduler", timedelta(minutes=10), T0 + 5 * minute) == []

        finish_job(conn, silent, now=T0 + 6 * minute, state=JobState.FAILED)
        assert heartbeat(conn, silent, T0 + 7 * minute) is JobState.FAILED
        assert dead_jobs(conn, "scheduler", timedelta(seconds=90), T0 + 6 * minute) == []


def test_unknown_jobs_are_not_found(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(NotFoundError, match="job 404"):
            heartbeat(conn, 404, T0)
        with pytest.raises(NotFoundError, match="job 404"):
            finish_job(conn, 404, now=T0)
