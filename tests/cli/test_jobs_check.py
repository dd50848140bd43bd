"""``windvane jobs check``: Airflow's liveness probe, and the DAG processor's own job row."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine, select

from windvane.cli.jobs import PROCESSOR_JOB_TYPE, processor_job
from windvane.core.store import jobs
from windvane.core.store.engine import begin_read, begin_write, create_db_engine
from windvane.core.store.tables import job as job_t
from windvane.testing.waiting import wait_for

from .conftest import RunCli


@pytest.fixture
def engine(run_cli: RunCli, home: Path) -> Iterator[Engine]:
    assert run_cli("db", "migrate").code == 0
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    yield engine
    engine.dispose()


def _job(engine: Engine, job_type: str, *, age: float, host: str = "node-a", state: str = "running") -> int:
    now = pendulum.now("UTC")
    with begin_write(engine) as conn:
        job_id = jobs.start_job(conn, job_type, hostname=host, pid=1234, now=now - timedelta(seconds=age))
        if state != "running":
            jobs.finish_job(conn, job_id, now=now)
    return job_id


def test_no_job_is_a_failure_with_a_message(run_cli: RunCli, engine: Engine) -> None:
    result = run_cli("jobs", "check")
    assert result.code == 1 and "No alive jobs found" in result.err and "scheduler" in result.err


def test_a_fresh_heartbeat_passes_a_stale_or_finished_one_fails(run_cli: RunCli, engine: Engine) -> None:
    _job(engine, "scheduler", age=120)  # older than the 30 s threshold
    _job(engine, "scheduler", age=1, state="success")  # ended cleanly
    assert run_cli("jobs", "check").code == 1
    _job(engine, "scheduler", age=1)
    result = run_cli("jobs", "check", "--job-type", "scheduler")
    assert result.code == 0 and result.out.strip() == "Found one alive job."
    assert run_cli("jobs", "check", "--job-type", "dag-processor").code == 1


def test_hostname_and_local_keep_one_hosts_jobs(run_cli: RunCli, engine: Engine) -> None:
    _job(engine, "scheduler", age=1, host="node-a")
    assert run_cli("jobs", "check", "--hostname", "node-a").code == 0
    assert run_cli("jobs", "check", "--hostname", "node-b").code == 1
    assert run_cli("jobs", "check", "--local").code == 1
    _job(engine, "scheduler", age=1, host=socket.getfqdn())
    assert run_cli("jobs", "check", "--local").code == 0
    both = run_cli("jobs", "check", "--local", "--hostname", "node-a")
    assert both.code == 2 and "not allowed with" in both.err


def test_more_than_one_alive_job_needs_allow_multiple(run_cli: RunCli, engine: Engine) -> None:
    _job(engine, "scheduler", age=1, host="node-a")
    _job(engine, "scheduler", age=2, host="node-b")
    assert run_cli("jobs", "check").code == 0  # --limit 1 looks at the newest only (as Airflow)
    two = run_cli("jobs", "check", "--limit", "5")
    assert two.code == 1 and "Found 2 alive jobs. Expected only one" in two.err
    ok = run_cli("jobs", "check", "--limit", "5", "--allow-multiple")
    assert ok.code == 0 and ok.out.strip() == "Found 2 alive jobs."
    usage = run_cli("jobs", "check", "--allow-multiple")
    assert usage.code == 2 and "--limit greater than 1" in usage.err


def test_the_dag_processor_job_heartbeats_and_ends(run_cli: RunCli, engine: Engine) -> None:
    with processor_job(engine, heartbeat_seconds=0.05) as job_id:
        with begin_read(engine) as conn:
            first = conn.execute(select(job_t.c.latest_heartbeat).where(job_t.c.id == job_id)).scalar_one()

        def beaten() -> bool:
            with begin_read(engine) as conn:
                beat = conn.execute(select(job_t.c.latest_heartbeat).where(job_t.c.id == job_id)).scalar_one()
            return bool(beat > first)

        wait_for(beaten, timeout=10, what="a second heartbeat")
        result = run_cli("jobs", "check", "--job-type", "dag-processor", "--local")
        assert result.code == 0, result.err
    with begin_read(engine) as conn:
        row = conn.execute(select(job_t.c.job_type, job_t.c.state).where(job_t.c.id == job_id)).one()
    assert tuple(row) == (PROCESSOR_JOB_TYPE, "success")
    assert run_cli("jobs", "check", "--job-type", "dag-processor").code == 1
