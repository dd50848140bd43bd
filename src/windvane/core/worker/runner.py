"""The worker side of one try: claim it, run it in a forked child, record how it ended.

:func:`run_workload` is three steps, on a :class:`~windvane.core.store.raw.RawDb`
(no SQLAlchemy: this module is imported by lean LocalExecutor workers):

1. :func:`~windvane.core.store.try_claim.claim_try` (one write transaction); a
   try whose claim fails is not run;
2. the try runs in a child forked from this (warm) process
   (:func:`windvane.core.forking.supervise.run_forked` with
   :func:`windvane.core.worker.task_child.child_main`), logging to
   ``{log_folder}/dag_id=<d>/run_id=<r>/task_id=<t>/attempt=<n>.log``. While
   it runs longer than ``heartbeat_seconds`` the worker records a heartbeat
   every ``heartbeat_seconds``; past ``execution_timeout`` plus a grace period
   it is killed;
3. :func:`~windvane.core.store.try_lifecycle.finish_try` (one write transaction).

A child that ends without reporting an outcome (``sys.exit``, ``os._exit``, a
signal, a kill) fails the try with a message naming how it ended.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.sensors.base import BaseSensorOperator
from windvane.core.forking.ending import ChildEnd
from windvane.core.forking.supervise import run_forked, supervise
from windvane.core.model.outcome import TryOutcome, failure_state
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.journal_sql import JournalReason
from windvane.core.store.raw import RawDb
from windvane.core.store.try_claim import Claim, ClaimNext, now_utc
from windvane.core.store.try_lifecycle import make_event, record_heartbeat
from windvane.core.worker import db_errors
from windvane.core.worker.claiming import claim_error, claim_with_retries, fail_unclaimable
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.execution import failed_outcome
from windvane.core.worker.final_write import OutcomeRecords, record_outcome
from windvane.core.worker.inputs import RunInputs, jinja_env_for, run_inputs_for
from windvane.core.worker.task_callbacks import DEFAULT_CALLBACK_TIMEOUT, callbacks_of
from windvane.core.worker.task_child import ChildJob, child_main
from windvane.core.worker.task_log import LogCap, append_line, write_header
from windvane.core.worker.try_host import TryHosts, TryRequest
from windvane.errors import DagImportError, DatabaseOutageError, InvalidRunIdError, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy import Engine

#: Retry delay when the task's own is unknown (its DAG file failed to load): BaseOperator's default.
DEFAULT_RETRY_DELAY = timedelta(seconds=300)
#: How often the worker checks a running try's log size against its cap.
LOG_CHECK_SECONDS = 1.0
#: How long a worker keeps its next try while the current one runs (then it hands it back).
FOLLOW_HOLD_SECONDS = 0.5
MIB = 1 << 20
_ENDING_HOOKS = ("on_success_callback", "on_failure_callback", "on_retry_callback", "on_skipped_callback")
log = logging.getLogger(__name__)


def log_path_for(log_folder: str, workload: Workload) -> str:
    """Where the log of this try goes (``workload.log_path`` when the scheduler set one)."""
    if workload.log_path:
        return workload.log_path
    parts = [f"dag_id={workload.dag_id}", f"run_id={workload.run_id}", f"task_id={workload.task_id}"]
    if workload.map_index >= 0:
        parts.append(f"map_index={workload.map_index}")
    return path_under(log_folder, *parts, f"attempt={workload.try_number}.log")


def path_under(root: str, *parts: str) -> str:
    """``root/part/...``, provably inside ``root``: each part must be one plain file-name component
    (no separator, not ``.``/``..``) and the normalised result must lie under the normalised root;
    else an :class:`InvalidRunIdError` naming the part. No system call: a worker pays nothing."""
    for part in parts:
        if not part or part in (".", "..") or os.sep in part or "\0" in part:
            raise InvalidRunIdError(f"log path component {part!r} would lead outside the logs folder {root}")
    top = os.path.normpath(os.path.abspath(root))
    path = os.path.normpath(os.path.join(top, *parts))
    if os.path.commonpath([top, path]) != top:
        raise InvalidRunIdError(f"log path {path} would lie outside the logs folder {top}")
    return path


def run_workload(
    workload: Workload,
    *,
    db: RawDb | None = None,
    engine: Engine | None = None,
    loader: DagLoader,
    log_folder: str,
    hostname: str,
    heartbeat_seconds: float = 5.0,
    timeout_grace_seconds: float = 5.0,
    kill_grace_seconds: float = 5.0,
    on_running: Callable[[TaskEvent], None] | None = None,
    max_log_bytes: int = 0,
    memory_limit_mib: int = 0,
    outcome_records: OutcomeRecords | None = None,
    final_write_give_up_seconds: float = 600.0,
    callback_timeout_seconds: float = DEFAULT_CALLBACK_TIMEOUT,
    claim_give_up_seconds: float = 300.0,
    hosts: TryHosts | None = None,
    claimed: Claim | None = None,
    follow: Callable[[], ClaimNext | None] | None = None,
    while_running: Callable[[], object] | None = None,
) -> TaskEvent:
    """Claim, run and record one try; returns its final event (state None: not run / not recorded).

    The database is ``db``, or, for callers holding an SQLAlchemy ``engine``
    (the CLI, tests), a :class:`RawDb` on the engine's URL opened for this call.
    ``on_running`` receives the ``running`` event right after the claim. A try
    whose ``execution_timeout`` passed by ``timeout_grace_seconds`` without
    ending is killed (SIGTERM, then SIGKILL ``kill_grace_seconds`` later). ``max_log_bytes``
    caps the try's log file (:class:`~windvane.core.worker.task_log.LogCap`; 0: no cap);
    ``memory_limit_mib`` caps the try's address space (0: none), and a try that runs out of it
    fails with a message naming the limit. The final write is retried until it lands
    (:func:`~windvane.core.worker.final_write.record_outcome`, kept in ``outcome_records`` until
    then; given up after ``final_write_give_up_seconds``). Each task callback may run
    ``callback_timeout_seconds`` in the try's process; the kill deadline leaves room for them.
    A claim that fails on a transient database error is retried with backoff for up to
    ``claim_give_up_seconds`` (:func:`claim_with_retries`). With ``hosts`` the try runs in the
    worker's try host for its DAG file (:mod:`windvane.core.worker.try_host`; its memory limit is
    the host's own) instead of a child forked for it alone, unless the task is ``isolated``.

    The claim is skipped when the try was ``claimed`` already (in the transaction that finished
    the worker's previous try). ``follow`` is asked once, when the outcome is about to be written,
    for the worker's next try: if it returns one, the outcome's transaction claims it too
    (:class:`~windvane.core.store.try_claim.ClaimNext`, which then holds the claim).
    ``while_running`` is called every :data:`FOLLOW_HOLD_SECONDS` while the try runs (the worker
    hands back a next try it holds, so it does not wait behind a long one).
    """
    if db is None:
        if engine is None:
            raise TypeError("run_workload needs db or engine")
        own = RawDb(engine.url.render_as_string(hide_password=False))
        try:
            return run_workload(
                workload,
                db=own,
                loader=loader,
                log_folder=log_folder,
                hostname=hostname,
                heartbeat_seconds=heartbeat_seconds,
                timeout_grace_seconds=timeout_grace_seconds,
                kill_grace_seconds=kill_grace_seconds,
                on_running=on_running,
                max_log_bytes=max_log_bytes,
                memory_limit_mib=memory_limit_mib,
                outcome_records=outcome_records,
                final_write_give_up_seconds=final_write_give_up_seconds,
                callback_timeout_seconds=callback_timeout_seconds,
                claim_give_up_seconds=claim_give_up_seconds,
                hosts=hosts,
                claimed=claimed,
                follow=follow,
                while_running=while_running,
            )
        finally:
            own.close()
    try:
        dag = loader.get_dag(workload.fileloc, workload.dag_id)
        task: BaseOperator | None = dag.get_task(workload.task_id)
        load_error = None
    except (DagImportError, NotFoundError) as exc:
        task = None
        load_error = f"cannot load task {workload.task_id!r} of DAG {workload.dag_id!r}: {exc}"
    try:
        claim = claimed or claim_with_retries(
            db, workload, hostname=hostname, give_up_seconds=claim_give_up_seconds,
            first_try=sensor_first_try(workload, task),
        )  # fmt: skip
    except DatabaseOutageError:
        raise  # the database stayed away: nothing can be written now (the queued timeout settles it)
    except Exception as exc:
        error = claim_error(workload, exc)
        unclaimed = (
            unloadable_outcome(workload, error)
            if task is None
            else failed_outcome(task, workload.try_number, workload.max_tries, error)
        )
        return fail_unclaimable(db, workload, unclaimed, exc)
    if claim is None:
        return make_event(
            workload, None, now_utc().timestamp(), error="the try was not claimed (no longer queued for it)"
        )

    def finish(
        outcome: TryOutcome, *, start_date: datetime | None, reason: JournalReason | None = None
    ) -> TaskEvent:
        return record_outcome(
            db,
            workload,
            outcome,
            start_date=start_date,
            reason=reason,
            records=outcome_records,
            give_up_seconds=final_write_give_up_seconds,
            then=None if follow is None else follow(),
        )

    if on_running is not None:
        on_running(make_event(workload, TaskInstanceState.RUNNING.value, claim.start_date))
    try:
        log_path = log_path_for(log_folder, workload)
    except InvalidRunIdError as exc:  # a run id from before the check, or a stored path
        return finish(unloadable_outcome(workload, str(exc)), start_date=claim.start_date)
    try:
        write_header(log_path, workload, hostname)
    except OSError as exc:
        error = f"cannot write the log file {log_path}: {exc.strerror or exc}"
        return finish(unloadable_outcome(workload, error), start_date=claim.start_date)
    if load_error is not None:
        append_line(log_path, load_error)
        return finish(unloadable_outcome(workload, load_error), start_date=claim.start_date)
    assert task is not None  # loaded, or load_error says why not
    timeout = workload.execution_timeout
    if timeout is None and task.execution_timeout is not None:
        timeout = task.execution_timeout.total_seconds()
    job = ChildJob(
        workload=workload,
        dag=dag,
        task=task,
        log_path=log_path,
        db_url=db.url,
        hostname=hostname,
        prev_data_interval_start_success=claim.prev_data_interval_start_success,
        prev_data_interval_end_success=claim.prev_data_interval_end_success,
        run_start_date=claim.run_start_date,
        jinja_env=jinja_env_for(dag),
        run=_run_inputs(workload, claim),
        first_poke_at=claim.first_poke_at,
        reschedule_count=claim.reschedule_count,
        callback_timeout=callback_timeout_seconds,
        claim_check_seconds=max(1.0, claim_give_up_seconds),
    )
    deadline = None if timeout is None else timeout + timeout_grace_seconds
    if deadline is not None:  # the callbacks run after execute's own alarm: not the task's time
        deadline += callback_allowance(task, callback_timeout_seconds)
    cap = LogCap(log_path, max_log_bytes) if max_log_bytes > 0 else None
    tick_seconds, tick = _ticks(cap, while_running)
    if hosts is None or task.isolated:
        end = run_forked(
            lambda: child_main(job),
            deadline_seconds=deadline,
            kill_grace_seconds=kill_grace_seconds,
            heartbeat_seconds=heartbeat_seconds,
            heartbeat=db_errors.counting(lambda: record_heartbeat(db, workload)),
            memory_limit_bytes=memory_limit_mib * MIB,
            tick_seconds=tick_seconds,
            tick=tick,
        )
    else:
        request = TryRequest(
            workload, claim, log_path, db.url, hostname, callback_timeout_seconds,
            claim_check_seconds=job.claim_check_seconds,
        )  # fmt: skip
        child = hosts.start(request, deadline_seconds=deadline)
        end = hosts.finished(
            child,
            supervise(
                child,
                heartbeat_seconds=heartbeat_seconds,
                heartbeat=db_errors.counting(lambda: record_heartbeat(db, workload)),
                tick_seconds=tick_seconds,
                tick=tick,
            ),
        )
    if cap is not None:
        with contextlib.suppress(OSError):
            cap.check()
    outcome = _reported_outcome(end)
    if outcome is not None and memory_limit_mib > 0:
        outcome = name_memory_limit(outcome, workload.task_id, memory_limit_mib, end.oom_kills)
    if outcome is not None:
        if end.oom_kills:
            append_line(log_path, outcome.error or "")
        return finish(outcome, start_date=claim.start_date)
    outcome = _unreported_outcome(end, job, timeout)
    if memory_limit_mib > 0:
        outcome = name_memory_limit(outcome, workload.task_id, memory_limit_mib, end.oom_kills)
    append_line(log_path, outcome.error or "")
    return finish(outcome, start_date=claim.start_date, reason=JournalReason.TASK_KILLED)


def _ticks(
    cap: LogCap | None, while_running: Callable[[], object] | None
) -> tuple[float | None, Callable[[], object] | None]:
    """What supervision calls periodically while the try runs: the log cap's check and the
    worker's ``while_running`` (each every :data:`FOLLOW_HOLD_SECONDS` then)."""
    if cap is None and while_running is None:
        return None, None
    if while_running is None:
        assert cap is not None
        return LOG_CHECK_SECONDS, cap.check
    if cap is None:
        return FOLLOW_HOLD_SECONDS, while_running
    check = cap.check

    def both() -> None:
        check()
        while_running()

    return FOLLOW_HOLD_SECONDS, both


def sensor_first_try(workload: Workload, task: BaseOperator | None) -> int | None:
    """For a reschedule-mode sensor, the number of its first try since the last clear (its
    timeout counts from there, across retries, as in Airflow); None for any other task."""
    if not isinstance(task, BaseSensorOperator) or not task.reschedule:
        return None
    return max(1, workload.max_tries - task.retries + 1)


def callback_allowance(task: BaseOperator, callback_timeout: float) -> float:
    """The longest ``task``'s callbacks can take in one try: its ``on_execute_callback`` list and
    its longest end-of-try list, each call bounded by ``callback_timeout``."""
    ending = max(len(callbacks_of(task, hook)) for hook in _ENDING_HOOKS)
    return callback_timeout * (len(callbacks_of(task, "on_execute_callback")) + ending)


def name_memory_limit(outcome: TryOutcome, task_id: str, limit_mib: int, oom_kills: int = 0) -> TryOutcome:
    """A failure from ``MemoryError`` under a memory limit (``RLIMIT_AS``), or a try whose cgroup
    saw ``oom_kills`` OOM kills (the cgroup's limit), says which limit it hit."""
    if outcome.error is None or outcome.state is TaskInstanceState.SUCCESS:
        return outcome
    if oom_kills:
        how = f"the kernel's OOM killer ended {oom_kills} of its processes in its cgroup"
        error = f"task {task_id!r} exceeded the memory limit of {limit_mib} MiB ({how})\n{outcome.error}"
    elif "MemoryError" in outcome.error:
        error = f"task {task_id!r} exceeded the memory limit of {limit_mib} MiB\n{outcome.error}"
    else:
        return outcome
    return dataclasses.replace(outcome, error=error)


def unloadable_outcome(workload: Workload, error: str) -> TryOutcome:
    """A failure before the task could start (no task, no log file); retried, if at all,
    after :data:`DEFAULT_RETRY_DELAY`."""
    state = failure_state(workload.try_number, workload.max_tries)
    delay = DEFAULT_RETRY_DELAY if state is TaskInstanceState.UP_FOR_RETRY else None
    return TryOutcome(state=state, error=error, next_retry_delay=delay)


def _reported_outcome(end: ChildEnd) -> TryOutcome | None:
    """The outcome the child wrote, if it wrote a whole one."""
    if end.payload is None:
        return None
    try:
        return TryOutcome.from_json(end.payload)
    except (ValueError, KeyError, TypeError):
        return None


def _unreported_outcome(end: ChildEnd, job: ChildJob, timeout: float | None) -> TryOutcome:
    task_id = job.workload.task_id
    if end.timed_out:
        error = f"task {task_id!r} timed out after {timeout or 0:g} s and was killed"
    elif end.reason is not None:
        error = f"task {task_id!r} was killed: {end.reason}"
    else:
        error = f"the process running task {task_id!r} {end.status} before reporting an outcome"
    return failed_outcome(job.task, job.workload.try_number, job.workload.max_tries, error)


def _run_inputs(workload: Workload, claim: Claim) -> RunInputs | None:
    """The run's context inputs, built here once per run; None if they cannot be (the child
    then reports why)."""
    try:
        return run_inputs_for(
            workload,
            run_start_date=claim.run_start_date,
            prev_data_interval_start_success=claim.prev_data_interval_start_success,
            prev_data_interval_end_success=claim.prev_data_interval_end_success,
        )
    except Exception:
        return None
