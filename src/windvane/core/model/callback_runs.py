"""How each task callback a try ran in its own process went: :class:`CallbackRun`.

The try's process has no metrics sink, so it reports its callbacks with its
outcome (:class:`~windvane.core.model.outcome.TryOutcome` -> the worker's
:class:`~windvane.core.model.workload.TaskEvent` -> the scheduler's
:class:`~windvane.core.model.events.TryFinished`), and whoever watches the
scheduler (``windvane.metrics``) counts them. Core only declares the fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CallbackStatus(StrEnum):
    """How one callback call ended."""

    OK = "ok"
    #: It raised (logged with its traceback).
    FAILED = "failed"
    #: It was still running at the callback timeout (left behind; its process then exits).
    TIMED_OUT = "timed_out"


#: The task callback hooks a try runs itself, in the order they can happen.
TASK_HOOKS = (
    "on_execute_callback",
    "on_success_callback",
    "on_failure_callback",
    "on_retry_callback",
    "on_skipped_callback",
)


@dataclass(frozen=True, slots=True)
class CallbackRun:
    """One call of one callback: which ``hook`` (an attribute of :data:`TASK_HOOKS`), how it
    ended and how long it took (``seconds``, wall time; the timeout for one that timed out)."""

    hook: str
    status: CallbackStatus
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status is CallbackStatus.OK

    def to_list(self) -> list[Any]:
        """``[hook, status, seconds]``: the compact JSON form."""
        return [self.hook, self.status.value, self.seconds]

    @classmethod
    def from_list(cls, data: Sequence[Any]) -> CallbackRun:
        """Inverse of :meth:`to_list`; raises ``ValueError``/``TypeError`` on anything else."""
        hook, status, seconds = data
        if hook not in TASK_HOOKS:
            raise ValueError(f"unknown callback hook {hook!r}")
        return cls(hook=hook, status=CallbackStatus(status), seconds=float(seconds))


def runs_to_json(runs: Iterable[CallbackRun]) -> list[list[Any]]:
    """The JSON form of a sequence of runs."""
    return [run.to_list() for run in runs]


def runs_from_json(data: Iterable[Sequence[Any]]) -> tuple[CallbackRun, ...]:
    """Inverse of :func:`runs_to_json`."""
    return tuple(CallbackRun.from_list(item) for item in data)
