"""The forked child of one try: log file, context, :func:`~windvane.core.execution.run_try`.

Everything here runs in the child :func:`windvane.core.task_process.run_forked`
made. The child inherits the worker's database engine but never touches it:
XCom pulls go through an engine of its own, created on first use.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import logging
import os
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

import pendulum

from windvane.core.context import RunInfo, build_context, params_for_run
from windvane.core.execution import failed_outcome, run_try
from windvane.core.processor.parse_child import format_user_traceback
from windvane.core.runtime_ti import RuntimeTaskInstance
from windvane.core.store.engine import create_db_engine
from windvane.core.store.xcoms import SqlXComReader
from windvane.core.templating import make_jinja_env

if TYPE_CHECKING:
    import jinja2

    from windvane.core.baseoperator import BaseOperator
    from windvane.core.dag import DAG
    from windvane.core.executors.base import Workload

LOG_FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"
#: Loggers whose handlers a task's log replaces (root last: it keeps the one to the log file).
_REDIRECTED_LOGGERS = ("windvane.task", "windvane", "")


@dataclass(frozen=True, slots=True)
class ChildJob:
    """What the child needs, all of it known before the fork."""

    workload: Workload
    dag: DAG
    task: BaseOperator
    log_path: str
    db_url: str
    hostname: str
    prev_data_interval_start_success: datetime | None
    prev_data_interval_end_success: datetime | None
    run_start_date: datetime | None
    #: Built before the fork, so the child inherits it (and Jinja's lazy imports) warm.
    jinja_env: jinja2.Environment


class LazyXComReader:
    """A :class:`SqlXComReader` on an engine of its own, made on the first read."""

    def __init__(self, db_url: str) -> None:
        self._db_url = db_url
        self._reader: SqlXComReader | None = None

    def get(self, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
        if self._reader is None:
            self._reader = SqlXComReader(create_db_engine(self._db_url, pool_size=1))
        return self._reader.get(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key)


def child_main(job: ChildJob) -> bytes:
    """The body of the forked child: returns the outcome as JSON bytes."""
    _redirect_output(job.log_path)
    workload = job.workload
    try:
        ti = RuntimeTaskInstance(
            dag_id=workload.dag_id,
            task_id=workload.task_id,
            run_id=workload.run_id,
            try_number=workload.try_number,
            max_tries=workload.max_tries,
            map_index=workload.map_index,
            hostname=job.hostname,
            reader=LazyXComReader(job.db_url),
        )
        context = build_context(
            run=_run_info(job),
            dag=job.dag,
            task=job.task,
            ti=ti,
            params=params_for_run(job.dag.params, job.task.params, workload.conf),
        )
    except Exception as exc:  # a context that cannot be built fails the try, visibly
        error = format_user_traceback(exc)
        logging.getLogger("windvane.task").error("Cannot prepare the try:\n%s", error)
        outcome = failed_outcome(job.task, workload.try_number, workload.max_tries, error)
    else:
        _on_sigterm_kill(job.task)
        outcome = run_try(job.task, context, jinja_env=job.jinja_env)
    logging.getLogger("windvane.task").info("Try %d ended: %s", workload.try_number, outcome.state.value)
    _flush()
    return outcome.to_json().encode()


def write_header(log_path: str, workload: Workload, hostname: str) -> None:
    """Create the log file (and its folders) with its first line, naming the try."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(
            f"*** {workload.dag_id}.{workload.task_id} run {workload.run_id} try {workload.try_number} "
            f"(of {workload.max_tries + 1}) on {hostname}, "
            f"started {datetime.now(UTC).isoformat(timespec='seconds')}\n"
        )


def jinja_env_for(dag: DAG) -> jinja2.Environment:
    """The DAG's template environment: its folder and ``template_searchpath``, macros and filters."""
    searchpath = [os.path.dirname(os.path.abspath(dag.fileloc)), *dag.template_searchpath]
    env = make_jinja_env(searchpath=searchpath)
    env.globals.update(dag.user_defined_macros)
    env.filters.update(dag.user_defined_filters)
    return env


def _run_info(job: ChildJob) -> RunInfo:
    workload = job.workload
    logical_date = pendulum.parse(workload.logical_date)
    start = pendulum.parse(workload.data_interval_start) if workload.data_interval_start else logical_date
    end = pendulum.parse(workload.data_interval_end) if workload.data_interval_end else logical_date
    return RunInfo(
        dag_id=workload.dag_id,
        run_id=workload.run_id,
        run_type=workload.run_type,
        logical_date=_datetime(logical_date),
        data_interval_start=_datetime(start),
        data_interval_end=_datetime(end),
        prev_data_interval_start_success=_opt_pendulum(job.prev_data_interval_start_success),
        prev_data_interval_end_success=_opt_pendulum(job.prev_data_interval_end_success),
        conf=workload.conf,
        start_date=_opt_pendulum(job.run_start_date),
    )


def _datetime(value: Any) -> pendulum.DateTime:
    if not isinstance(value, pendulum.DateTime):
        raise ValueError(f"expected a date and time, got {value!r}")
    return value


def _opt_pendulum(value: datetime | None) -> pendulum.DateTime | None:
    return None if value is None else pendulum.instance(value)


def _redirect_output(log_path: str) -> None:
    """fd 1 and 2 (and ``sys.stdout``/``sys.stderr``, and logging) go to the log file."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
    faulthandler.enable(file=sys.stderr)  # a segfault's Python traceback lands in the log too
    if logging.root.manager.disable:
        logging.disable(logging.NOTSET)
    # Only the loggers Windvane configures; walking every logger would copy pages for nothing.
    for name in _REDIRECTED_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _on_sigterm_kill(task: BaseOperator) -> None:
    """On SIGTERM (the supervisor's deadline, a stopping worker) call ``on_kill`` and exit 143."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("windvane.task").error("Received SIGTERM: killing the task")
        try:
            task.on_kill()
        except Exception:
            logging.getLogger("windvane.task").exception("on_kill failed")
        _flush()
        os._exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
