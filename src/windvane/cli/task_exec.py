"""``windvane tasks test`` and ``windvane tasks run``: one try of one task, now.

``tasks test`` runs the task in this process with
:func:`windvane.core.worker.execution.run_try`, ignoring dependencies and writing
nothing to the database.

``tasks run`` runs an existing task instance the way a worker does
(:func:`windvane.core.worker.runner.run_workload`), see :data:`RUN_DESCRIPTION`.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pendulum
from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from windvane.cli.args import to_datetime
from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli
from windvane.cli.dag_files import load_dag
from windvane.cli.logs import configure_logging
from windvane.cli.output import error_summary
from windvane.cli.views import load_serialized
from windvane.cli.wiring import create_engine, log_folder, open_engine
from windvane.core.model.states import DagRunType
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey, Workload
from windvane.core.store import jobs
from windvane.core.store.dag_runs import get_dag_run
from windvane.core.store.engine import begin_write
from windvane.core.store.migrate import check
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import task_instance as ti_table
from windvane.core.store.try_queue import queue_tries
from windvane.core.store.xcoms import SqlXComReader
from windvane.core.task_api.context import RunInfo, build_context, params_for_run
from windvane.core.task_api.masking import masked_stdio, redact
from windvane.core.task_api.task_instance import NoXComs, RuntimeTaskInstance, XComReader
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.execution import run_try
from windvane.core.worker.inputs import jinja_env_for
from windvane.core.worker.runner import log_path_for, run_workload
from windvane.errors import NotFoundError, StoreError, WindvaneError

_BUSY = (S.QUEUED.value, S.RUNNING.value)
_FINISHED = (S.SUCCESS.value, S.FAILED.value, S.SKIPPED.value, S.UPSTREAM_FAILED.value, S.REMOVED.value)


@contextmanager
def _xcom_reader(cli: Cli) -> Iterator[XComReader]:
    """XComs from the database when it is migrated and reachable, else none."""
    try:
        engine = create_engine(cli.settings)
    except StoreError:
        yield NoXComs()
        return
    try:
        usable = check(engine).is_current
    except SQLAlchemyError:
        usable = False
    try:
        yield SqlXComReader(engine) if usable else NoXComs()
    finally:
        engine.dispose()


def run_task_test(cli: Cli, args: argparse.Namespace) -> int:
    configure_logging(cli.settings, verbose=cli.verbose)
    dag = load_dag(cli.settings, args.dag_id)
    task = dag.get_task(args.task_id)
    now = pendulum.now("UTC")
    tz = cli.settings.core.default_timezone
    logical = (to_datetime(args.logical_date, tz) if args.logical_date else now).in_timezone("UTC")
    interval = dag.timetable.infer_manual_data_interval(run_after=logical)  # as dags trigger/test
    run_id = DagRunType.MANUAL.run_id(logical.isoformat())
    run = RunInfo(
        dag_id=dag.dag_id, run_id=run_id, run_type=DagRunType.MANUAL.value, logical_date=logical,
        data_interval_start=interval.start, data_interval_end=interval.end, conf=args.conf or {},
        start_date=now,
    )  # fmt: skip
    with _xcom_reader(cli) as reader:
        ti = RuntimeTaskInstance(dag_id=dag.dag_id, task_id=task.task_id, run_id=run_id, reader=reader)
        params = params_for_run(dag.params, task.params, run.conf)
        context = build_context(run=run, dag=dag, task=task, ti=ti, params=params)
        started = pendulum.now("UTC")
        with masked_stdio():  # what the task prints, with its secrets masked
            outcome = run_try(
                task,
                context,
                jinja_env=jinja_env_for(dag),
                callback_timeout=cli.settings.core.callback_timeout_seconds,
            )
    seconds = (pendulum.now("UTC") - started).total_seconds()
    cli.out.line(
        f"Task {task.task_id} of DAG {dag.dag_id} ({run_id}): {outcome.state.value} in {seconds:.2f} s"
    )
    for key, text in sorted(outcome.xcoms.items()):
        cli.out.line(f"  XCom {key} = {redact(text)}")
    if outcome.error:  # the traceback itself is in the task's log lines, on stderr
        cli.out.line(f"  error: {error_summary(outcome.error)}")
    return EXIT_OK if outcome.state in (S.SUCCESS, S.SKIPPED, S.UP_FOR_RESCHEDULE) else EXIT_FAILURE


def run_task(cli: Cli, args: argparse.Namespace) -> int:
    hostname = socket.gethostname()
    with open_engine(cli.settings) as engine:
        with begin_write(engine) as conn:
            workload = _queue_for_us(conn, args, hostname)
        try:
            event = run_workload(
                workload,
                engine=engine,
                loader=DagLoader(),
                log_folder=str(log_folder(cli.settings)),
                hostname=hostname,
                heartbeat_seconds=cli.settings.executor.worker_heartbeat_seconds,
                callback_timeout_seconds=cli.settings.core.callback_timeout_seconds,
            )
        finally:
            with begin_write(engine) as conn:
                jobs.finish_job(conn, workload.job_id, now=pendulum.now("UTC"))
    path = log_path_for(str(log_folder(cli.settings)), workload)
    state = event.state or "not recorded"
    cli.out.line(f"Task {args.task_id} of run {args.run_id} (try {workload.try_number}): {state}")
    cli.out.line(f"Log: {path}")
    if event.error:
        cli.out.line(event.error.rstrip())
    # A sensor that asked to be rescheduled did not fail: it waits (Airflow's exit code too).
    ok = (S.SUCCESS.value, S.SKIPPED.value, S.UP_FOR_RESCHEDULE.value)
    return EXIT_OK if event.state in ok else EXIT_FAILURE


def _queue_for_us(conn: Connection, args: argparse.Namespace, hostname: str) -> Workload:
    """Register the job and queue the task instance's next try for it; the workload to run."""
    dag = load_serialized(conn, args.dag_id)
    spec = dag.tasks.get(args.task_id)
    if spec is None:
        raise NotFoundError(f"task {args.task_id!r} not found in DAG {args.dag_id!r}")
    run = get_dag_run(conn, args.dag_id, args.run_id)
    ti = conn.execute(
        select(ti_table.c.id, ti_table.c.state, ti_table.c.try_number, ti_table.c.max_tries).where(
            ti_table.c.dag_run_id == run.id, ti_table.c.task_id == args.task_id, ti_table.c.map_index == -1
        )
    ).first()
    where = f"task {args.task_id!r} in run {args.run_id!r} of DAG {args.dag_id!r}"
    if ti is None:
        raise NotFoundError(f"{where} has no task instance")
    if ti.state in _BUSY:
        raise WindvaneError(f"{where} is {ti.state}: it is being run already")
    if ti.state in _FINISHED and not args.force:
        raise WindvaneError(f"{where} already finished ({ti.state}): pass --force to run it again")
    now = pendulum.now("UTC")
    job_id = jobs.start_job(conn, "task_runner", hostname=hostname, pid=os.getpid(), now=now)
    if not queue_tries(dbapi_tx(conn), [ti.id], job_id, now, from_states=[S(ti.state)]):
        raise WindvaneError(f"{where} changed while it was being queued; try again")
    return Workload(
        key=TaskInstanceKey(ti.id, run.id, run.dag_id, run.run_id, spec.task_id),
        try_number=ti.try_number + 1, max_tries=ti.max_tries, job_id=job_id, fileloc=dag.fileloc,
        run_type=run.run_type, logical_date=run.logical_date.isoformat(),
        data_interval_start=run.data_interval_start.isoformat() if run.data_interval_start else None,
        data_interval_end=run.data_interval_end.isoformat() if run.data_interval_end else None,
        conf=dict(run.conf or {}), queue=spec.queue, pool=spec.pool, priority_weight=spec.priority_weight,
        execution_timeout=spec.execution_timeout,
    )  # fmt: skip
