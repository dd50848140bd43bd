"""Run one try of one task, in this process: no database, no fork.

:func:`run_try` is the whole life of a try once its context exists: render the
templated fields, ``on_execute_callback``, ``execute`` under
``execution_timeout``, push the return value, decide the outcome, then the
callback that fits the outcome (each callback within ``callback_timeout``:
:mod:`windvane.core.worker.task_callbacks`). It never raises for anything the task does
(``SystemExit`` and ``KeyboardInterrupt`` excepted): the outcome says what
happened, including how each callback went. The caller (:mod:`windvane.core.worker.runner`) stores it.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

from windvane.core.model import retries
from windvane.core.model.callback_runs import CallbackRun
from windvane.core.model.outcome import TryOutcome, failure_state
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.tracebacks import format_user_traceback
from windvane.core.task_api.masking import redact
from windvane.core.task_api.task_instance import XCOM_RETURN_KEY, RuntimeTaskInstance
from windvane.core.task_api.templating import render_template_fields
from windvane.core.worker.rendered import rendered_fields_json
from windvane.core.worker.task_callbacks import DEFAULT_CALLBACK_TIMEOUT, callbacks_of, run_callbacks
from windvane.errors import (
    RescheduleRequested,
    SerializationError,
    TaskFailedNoRetry,
    TaskSkipped,
    TaskTimeoutError,
)

if TYPE_CHECKING:
    import jinja2

    from windvane.core.authoring.baseoperator import BaseOperator

log = logging.getLogger("windvane.task")

_CALLBACK_FOR_STATE = {
    TaskInstanceState.SUCCESS: "on_success_callback",
    TaskInstanceState.FAILED: "on_failure_callback",
    TaskInstanceState.UP_FOR_RETRY: "on_retry_callback",
    TaskInstanceState.SKIPPED: "on_skipped_callback",
}


def retry_delay(task: BaseOperator, try_number: int) -> timedelta:
    """The wait before the try after ``try_number``, by the task's retry settings."""
    return retries.retry_delay_for(
        try_number,
        retry_delay=task.retry_delay,
        exponential_backoff=task.retry_exponential_backoff,
        max_retry_delay=task.max_retry_delay,
    )


def failed_outcome(task: BaseOperator, try_number: int, max_tries: int, error: str) -> TryOutcome:
    """A failure that may be retried (``up_for_retry`` with its delay) or not."""
    state = failure_state(try_number, max_tries)
    delay = retry_delay(task, try_number) if state is TaskInstanceState.UP_FOR_RETRY else None
    return TryOutcome(state=state, error=error, next_retry_delay=delay)


def run_try(
    task: BaseOperator,
    context: dict[str, Any],
    *,
    jinja_env: jinja2.Environment,
    callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT,
    claim_held: Callable[[], bool] | None = None,
) -> TryOutcome:
    """Run one try of ``task`` with ``context`` (whose ``"ti"`` is a RuntimeTaskInstance).

    Outcomes: ``success``; ``skipped`` for :class:`TaskSkipped`; ``failed`` for
    :class:`TaskFailedNoRetry`; for any other exception (a timeout, a return
    value that cannot be stored as JSON, a template that does not render)
    ``up_for_retry`` while ``try_number <= max_tries``, else ``failed``;
    ``up_for_reschedule`` for :class:`RescheduleRequested` (a sensor in reschedule mode, which runs
    no callback). A callback that raises, or runs past ``callback_timeout`` seconds, is logged and
    changes nothing; the outcome's ``callbacks`` say how each went. ``claim_held`` (a worker's try)
    is asked before the end-of-try callbacks: a try that no longer holds its task instance (failed
    over after its heartbeats stopped, cleared or marked elsewhere) runs none, as its outcome will
    not be recorded either.
    """
    ti: RuntimeTaskInstance = context["ti"]
    exception: BaseException | None = None
    ran: list[CallbackRun] = []
    rendered: list[str] = []
    if task.is_noop:
        outcome = TryOutcome(state=TaskInstanceState.SUCCESS)
    else:
        try:
            _execute(task, context, ti, jinja_env, ran, callback_timeout, rendered)
            outcome = TryOutcome(
                state=TaskInstanceState.SUCCESS,
                xcoms=dict(ti.pushed),
                skip_task_ids=tuple(sorted(ti.skip_task_ids)),
            )
        except RescheduleRequested as exc:
            # Not an end: no callback runs, no XCom is kept (Airflow's AirflowRescheduleException).
            log.info("Task %s rescheduled to %s", task.task_id, exc.reschedule_date.isoformat())
            outcome = TryOutcome(state=TaskInstanceState.UP_FOR_RESCHEDULE, reschedule_at=exc.reschedule_date)
        except TaskSkipped as exc:
            exception = exc
            log.info("Task %s skipped: %s", task.task_id, exc)
            outcome = TryOutcome(
                state=TaskInstanceState.SKIPPED,
                error=redact(str(exc)) or None,
                xcoms=dict(ti.pushed),
                skip_task_ids=tuple(sorted(ti.skip_task_ids)),
            )
        except TaskFailedNoRetry as exc:
            exception = exc
            outcome = _failure(task, ti, exc, state=TaskInstanceState.FAILED)
        except Exception as exc:
            exception = exc
            outcome = _failure(task, ti, exc, state=failure_state(ti.try_number, ti.max_tries))
    hook = _CALLBACK_FOR_STATE.get(outcome.state)
    if hook is not None and claim_held is not None and callbacks_of(task, hook) and not claim_held():
        log.warning(
            "Try %d no longer holds its task instance (failed over or changed elsewhere): its %s is not run",
            ti.try_number,
            hook,
        )
        hook = None
    if hook is not None:
        ran.extend(run_callbacks(task, hook, context, exception, timeout=callback_timeout))
    if ran:
        outcome = dataclasses.replace(outcome, callbacks=tuple(ran))
    if rendered:
        outcome = dataclasses.replace(outcome, rendered_fields=rendered[0])
    if ti.sensor_pokes:
        outcome = dataclasses.replace(
            outcome, sensor_pokes=ti.sensor_pokes, sensor_timeout=ti.sensor_timed_out
        )
    return outcome


def _execute(
    task: BaseOperator,
    context: dict[str, Any],
    ti: RuntimeTaskInstance,
    env: jinja2.Environment,
    ran: list[CallbackRun],
    callback_timeout: float,
    rendered: list[str],
) -> None:
    """Render, ``on_execute_callback``, ``execute``, push the return value. ``rendered`` gets the
    rendered fields' JSON once they rendered (kept even if ``execute`` then fails)."""
    owner = f"task {task.task_id!r} in DAG {ti.dag_id!r}"
    if task.template_fields:
        render_template_fields(
            task, task.template_fields, context, env, template_ext=task.template_ext, owner=owner
        )
        fields = rendered_fields_json(task, task.template_fields)
        if fields is not None:
            rendered.append(fields)
    ran.extend(run_callbacks(task, "on_execute_callback", context, None, timeout=callback_timeout))
    timeout = task.execution_timeout.total_seconds() if task.execution_timeout is not None else None
    log.info("Executing %s (try %d of %d)", ti, ti.try_number, ti.max_tries + 1)
    try:
        with _time_limit(timeout, task.task_id):
            result = task.execute(context)
    except TaskTimeoutError:
        _kill(task)
        raise
    if task.do_xcom_push and result is not None:
        try:
            ti.xcom_push(XCOM_RETURN_KEY, result)
        except SerializationError as exc:
            raise SerializationError(
                f"{owner} returned a value of type {type(result).__name__!r} that cannot be stored "
                f"as an XCom ({exc}); return JSON-able data or set do_xcom_push=False"
            ) from None


def _failure(
    task: BaseOperator, ti: RuntimeTaskInstance, exc: BaseException, *, state: TaskInstanceState
) -> TryOutcome:
    error = redact(format_user_traceback(exc))  # stored in the DB, shown by the CLI and alerts
    log.error("Task %s failed (%s):\n%s", task.task_id, state.value, error.rstrip())
    delay = retry_delay(task, ti.try_number) if state is TaskInstanceState.UP_FOR_RETRY else None
    return TryOutcome(state=state, error=error, xcoms=dict(ti.pushed), next_retry_delay=delay)


@contextmanager
def _time_limit(seconds: float | None, task_id: str) -> Iterator[None]:
    """Raise :class:`TaskTimeoutError` in the block after ``seconds`` (SIGALRM; main thread only).

    Off the main thread no alarm can be set; the supervising process's hard
    deadline still applies.
    """
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise TaskTimeoutError(f"task {task_id!r} timed out after {seconds:g} s (execution_timeout)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-6))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _kill(task: BaseOperator) -> None:
    try:
        task.on_kill()
    except Exception:
        log.exception("on_kill of task %s failed", task.task_id)
