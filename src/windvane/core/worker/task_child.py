"""The forked child of one try: log file, context, :func:`~windvane.core.worker.execution.run_try`.

Everything here runs in the child :func:`windvane.core.forking.supervise.run_forked`
made. The child inherits the worker's database connection but never touches
it: XCom pulls go through a connection of its own, opened on first use
(:class:`~windvane.core.store.xcom_sql.RawXComReader`). Nothing here imports
SQLAlchemy. What does not change from try to try (the DAG's Jinja
environment, the run's :class:`~windvane.core.task_api.context.RunInfo` and the context
keys derived from it) the worker builds before forking
(:mod:`windvane.core.worker.inputs`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from windvane.core.model.outcome import TryOutcome
from windvane.core.model.tracebacks import format_user_traceback
from windvane.core.store.raw import RawDb
from windvane.core.store.try_position import holds_try
from windvane.core.store.xcom_sql import RawXComReader
from windvane.core.task_api.context import build_context, params_for_run
from windvane.core.task_api.masking import redact
from windvane.core.task_api.task_instance import RuntimeTaskInstance
from windvane.core.worker.execution import failed_outcome, run_try
from windvane.core.worker.inputs import RunInputs, run_inputs_for
from windvane.core.worker.metadata import RawRunMetadata
from windvane.core.worker.task_callbacks import DEFAULT_CALLBACK_TIMEOUT
from windvane.core.worker.task_log import redirect_output, scrub_log

if TYPE_CHECKING:
    import jinja2

    from windvane.core.authoring.baseoperator import BaseOperator
    from windvane.core.authoring.dag import DAG
    from windvane.core.model.workload import Workload

_log = logging.getLogger("windvane.task")
#: How often a child asks again whether its try still holds its row while the database is away.
CLAIM_CHECK_RETRY_SECONDS = 0.5


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
    #: The run as the context shows it, when the worker could build it (else the child tries,
    #: and fails the try visibly).
    run: RunInputs | None = None
    #: A reschedule-mode sensor's first poke since its last clear, and its reschedules since.
    first_poke_at: datetime | None = None
    reschedule_count: int = 0
    #: Longest one task callback may run (``[core] callback_timeout_seconds``).
    callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT
    #: A claimed try (a worker's): end-of-try callbacks run only while it still holds its row,
    #: asked for up to this many seconds of database outage (0: not asked).
    claim_check_seconds: float = 0.0


def child_main(job: ChildJob) -> bytes:
    """The body of the forked child: returns the outcome as JSON bytes."""
    redirect_output(job.log_path)
    outcome = run_job(job, log_path=job.log_path)
    _flush()
    scrub_log(job.log_path)
    return outcome.to_json().encode()


def run_job(job: ChildJob, *, handle_sigterm: bool = True, log_path: str | None = None) -> TryOutcome:
    """Build the context and run the try in this process, logging to the root logger.

    With ``handle_sigterm`` a SIGTERM calls the task's ``on_kill``, masks the secrets in
    ``log_path`` (if given) and exits 143.
    """
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
            reader=RawXComReader(job.db_url),
            first_poke_at=job.first_poke_at,
            reschedule_count=job.reschedule_count,
            metadata=RawRunMetadata(job.db_url),
        )
        run = job.run or _run_inputs(job)
        context = build_context(
            run=run.info,
            dag=job.dag,
            task=job.task,
            ti=ti,
            params=params_for_run(job.dag.params, job.task.params, workload.conf),
            run_keys=run.keys,
        )
    except Exception as exc:  # a context that cannot be built fails the try, visibly
        error = redact(format_user_traceback(exc))
        _log.error("Cannot prepare the try:\n%s", error)
        outcome = failed_outcome(job.task, workload.try_number, workload.max_tries, error)
    else:
        if handle_sigterm:
            _on_sigterm_kill(job.task, log_path)
        outcome = run_try(
            job.task, context, jinja_env=job.jinja_env, callback_timeout=job.callback_timeout,
            claim_held=(lambda: still_holds(job)) if job.claim_check_seconds > 0 else None,
        )  # fmt: skip
    _log.info("Try %d ended: %s", workload.try_number, outcome.state.value)
    return outcome


def still_holds(job: ChildJob) -> bool:
    """Whether the try still holds its task instance (running, this try number), on a connection of
    the child's own. The database is asked until it answers, for up to ``claim_check_seconds`` (a
    worker cut off from it waits to be back); one that never answers counts as held."""
    deadline = time.monotonic() + job.claim_check_seconds
    while True:
        db = RawDb(job.db_url)
        try:
            return holds_try(db, job.workload)
        except Exception as exc:
            if time.monotonic() >= deadline:
                _log.warning(
                    "Cannot tell whether the try still holds its task instance (%s); callbacks run", exc
                )
                return True
        finally:
            db.close()
        time.sleep(CLAIM_CHECK_RETRY_SECONDS)


def _run_inputs(job: ChildJob) -> RunInputs:
    return run_inputs_for(
        job.workload,
        run_start_date=job.run_start_date,
        prev_data_interval_start_success=job.prev_data_interval_start_success,
        prev_data_interval_end_success=job.prev_data_interval_end_success,
    )


def _on_sigterm_kill(task: BaseOperator, log_path: str | None) -> None:
    """On SIGTERM (the supervisor's deadline, a stopping worker) call ``on_kill`` and exit 143."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        _log.error("Received SIGTERM: killing the task")
        try:
            task.on_kill()
        except Exception:
            _log.exception("on_kill failed")
        _flush()
        if log_path is not None:
            scrub_log(log_path)
        os._exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
