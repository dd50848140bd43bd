"""Calling a task's callbacks in the try's own process, each within a timeout.

:func:`run_callbacks` calls every callback of one hook (``on_success_callback``
...) with the try's context. The try's state is decided before they run, and
nothing a callback does changes it: one that raises is logged with its
traceback; one still running after ``timeout`` seconds is logged with its name
and where it hangs, and left behind — the try goes on and its process exits
once its outcome is reported (:func:`~windvane.core.forking.child.child_run`
ends with ``os._exit``, which no thread survives; anything the callback
started in the try's session is swept). Each call is reported as a
:class:`~windvane.core.model.callback_runs.CallbackRun` so the outcome carries
it to the scheduler's metrics.

Each call runs in a daemon thread of its own (in the caller's
``contextvars`` context), joined with the timeout: unlike an alarm signal, a
thread cannot be swallowed by a callback's ``except Exception`` and works off
the main thread too (``dags test``). A try with no callbacks starts no thread.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from windvane.core.model.callback_runs import CallbackRun, CallbackStatus

if TYPE_CHECKING:
    from windvane.core.authoring.baseoperator import BaseOperator, CallbackArg

log = logging.getLogger("windvane.task")

#: Longest one task callback may run in the try's process (``[core] callback_timeout_seconds``).
DEFAULT_CALLBACK_TIMEOUT = 60.0


def callbacks_of(task: BaseOperator, hook: str) -> list[Callable[[dict[str, Any]], object]]:
    """The callables ``task`` declared for ``hook`` (none, one or a list)."""
    value: CallbackArg = getattr(task, hook, None)
    if value is None:
        return []
    if callable(value):
        return [value]
    return list(value)


def run_callbacks(
    task: BaseOperator,
    hook: str,
    context: Mapping[str, Any],
    exception: BaseException | None,
    *,
    timeout: float = DEFAULT_CALLBACK_TIMEOUT,
) -> tuple[CallbackRun, ...]:
    """Call each callback ``task`` has for ``hook`` (see the module doc); how each went."""
    callbacks = callbacks_of(task, hook)
    if not callbacks:
        return ()
    call_context = dict(context)
    if exception is not None:
        call_context["exception"] = exception
    return tuple(_call_one(task, hook, callback, call_context, timeout) for callback in callbacks)


def _call_one(
    task: BaseOperator,
    hook: str,
    callback: Callable[[dict[str, Any]], object],
    context: dict[str, Any],
    timeout: float,
) -> CallbackRun:
    name = getattr(callback, "__qualname__", None) or repr(callback)
    failed: list[bool] = []

    def call() -> None:
        try:
            callback(context)
        except BaseException:  # sys.exit() too: in a thread it would end only the thread, silently
            failed.append(True)
            log.exception("%s %s of task %s failed; the outcome stands", hook, name, task.task_id)

    began = time.monotonic()
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(call,), name=f"{hook} {name}", daemon=True
    )
    thread.start()
    thread.join(timeout)
    seconds = time.monotonic() - began
    if thread.is_alive():
        log.error(
            "%s %s of task %s did not finish within %g s (callback_timeout_seconds); it is left "
            "behind and the outcome stands. It hangs at:\n%s",
            hook,
            name,
            task.task_id,
            timeout,
            _where(thread),
        )
        return CallbackRun(hook, CallbackStatus.TIMED_OUT, seconds)
    return CallbackRun(hook, CallbackStatus.FAILED if failed else CallbackStatus.OK, seconds)


def _where(thread: threading.Thread) -> str:
    """The stack of ``thread`` now (empty if it just ended)."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None:
        return "  (it has just ended)"
    return "".join(traceback.format_stack(frame)).rstrip()
