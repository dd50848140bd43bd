"""``windvane jobs check``: a liveness probe, and the DAG processor's job row that it looks at.

The scheduler records a ``job`` row and heartbeats it (``windvane.core.scheduler``);
:func:`processor_job` does the same for a long-running DAG processor, so that
``windvane jobs check --job-type dag-processor`` can tell it is alive. A job is
alive when it is ``running`` and its latest heartbeat is younger than
``scheduler.health_check_threshold_seconds`` (Airflow's rule, Airflow's messages).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pendulum
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, UsageError
from windvane.cli.parser.ops import JOB_TYPES
from windvane.cli.wiring import open_engine
from windvane.core.store import jobs
from windvane.core.store._time import from_db, to_db
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.tables import job as job_t

log = logging.getLogger(__name__)

#: ``job.job_type`` of a long-running DAG processor.
PROCESSOR_JOB_TYPE = JOB_TYPES["dag-processor"]


def check(cli: Cli, args: argparse.Namespace) -> int:
    if args.allow_multiple and args.limit <= 1:
        raise UsageError("--allow-multiple needs --limit greater than 1 (as in Airflow)")
    job_type = JOB_TYPES[args.job_type]
    hostname = socket.getfqdn() if args.local else args.hostname
    threshold = cli.settings.scheduler.health_check_threshold_seconds
    now = pendulum.now("UTC")
    cutoff = to_db(now - timedelta(seconds=threshold), "liveness cutoff")
    stmt = (
        select(job_t.c.id, job_t.c.hostname, job_t.c.pid, job_t.c.latest_heartbeat)
        .where(job_t.c.job_type == job_type, job_t.c.state == jobs.JobState.RUNNING.value)
        .where(job_t.c.latest_heartbeat >= cutoff)
        .order_by(job_t.c.latest_heartbeat.desc(), job_t.c.id.desc())
        .limit(args.limit)
    )
    if hostname:
        stmt = stmt.where(job_t.c.hostname == hostname)
    with open_engine(cli.settings, require_schema=False) as engine, begin_read(engine) as conn:
        alive = conn.execute(stmt).all()
    where = f" on host {hostname}" if hostname else ""
    what = f"{args.job_type} job(s){where} with a heartbeat in the last {threshold:g} s"
    if not alive:
        cli.out.error(f"No alive jobs found: no running {what}.")
        return EXIT_FAILURE
    if len(alive) > 1 and not args.allow_multiple:
        cli.out.error(f"Found {len(alive)} alive jobs. Expected only one (running {what}).")
        return EXIT_FAILURE
    for job_id, host, pid, beat in alive:
        age = (now - from_db(beat)).total_seconds()
        cli.out.note(f"  job {job_id}: {host or '?'} pid {pid}, heartbeat {age:.1f} s ago")
    cli.out.line("Found one alive job." if len(alive) == 1 else f"Found {len(alive)} alive jobs.")
    return EXIT_OK


@contextmanager
def processor_job(engine: Engine, heartbeat_seconds: float) -> Iterator[int]:
    """A ``dag_processor`` job row, heartbeat every ``heartbeat_seconds`` until the block ends.

    A failed heartbeat (the database is away) is logged and retried on the next
    beat: it never stops the processor it reports on.
    """
    with begin_write(engine) as conn:
        job_id = jobs.start_job(
            conn, PROCESSOR_JOB_TYPE, hostname=socket.getfqdn(), pid=os.getpid(), now=pendulum.now("UTC")
        )
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat_seconds):
            try:
                with begin_write(engine) as conn:
                    jobs.heartbeat(conn, job_id, pendulum.now("UTC"))
            except SQLAlchemyError as exc:
                log.warning("DAG processor job %d: heartbeat failed: %s", job_id, exc)

    thread = threading.Thread(target=beat, name="dag-processor-heartbeat", daemon=True)
    thread.start()
    try:
        yield job_id
    finally:
        done.set()
        thread.join()
        try:
            with begin_write(engine) as conn:
                jobs.finish_job(conn, job_id, now=pendulum.now("UTC"))
        except SQLAlchemyError as exc:
            log.warning("DAG processor job %d: could not record its end: %s", job_id, exc)
