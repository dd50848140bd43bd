"""How a try ended (:class:`TryOutcome`), and Airflow's rule for when a failure is retried.

The forked child of a try reports a :class:`TryOutcome` as JSON over its pipe;
the worker records it (:mod:`windvane.core.store.try_lifecycle`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from windvane.core.model.callback_runs import CallbackRun, runs_from_json, runs_to_json
from windvane.core.model.states import TaskInstanceState


@dataclass(frozen=True, slots=True)
class TryOutcome:
    """How a try ended.

    ``xcoms`` maps key -> serialized JSON text (everything the try pushed).
    ``skip_task_ids`` are the downstream tasks the try asked to skip; they are
    kept only when the try succeeded or was skipped (a retry decides anew).
    ``next_retry_delay`` is set for ``up_for_retry`` only; ``reschedule_at`` (aware UTC) for
    ``up_for_reschedule`` only. ``sensor_pokes`` and ``sensor_timeout`` say what a sensor did in
    the try (for metrics). ``callbacks``: how each task callback the try ran went (for the
    callback metrics; the state never depends on them).
    """

    state: TaskInstanceState
    error: str | None = None
    xcoms: dict[str, str] = field(default_factory=dict)
    skip_task_ids: tuple[str, ...] = ()
    next_retry_delay: timedelta | None = None
    reschedule_at: datetime | None = None
    callbacks: tuple[CallbackRun, ...] = ()
    sensor_pokes: int = 0
    sensor_timeout: bool = False
    rendered_fields: str | None = None

    def to_json(self) -> str:
        delay = None if self.next_retry_delay is None else self.next_retry_delay.total_seconds()
        return json.dumps(
            {
                "state": self.state.value,
                "error": self.error,
                "xcoms": self.xcoms,
                "skip_task_ids": list(self.skip_task_ids),
                "next_retry_delay": delay,
                "reschedule_at": None if self.reschedule_at is None else self.reschedule_at.isoformat(),
                "sensor_pokes": self.sensor_pokes,
                "sensor_timeout": self.sensor_timeout,
                "callbacks": runs_to_json(self.callbacks),
                "rendered_fields": self.rendered_fields,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> TryOutcome:
        """Inverse of :meth:`to_json`; raises ``ValueError``/``KeyError`` on anything else."""
        data = json.loads(text)
        delay = data["next_retry_delay"]
        reschedule_at = data.get("reschedule_at")
        return cls(
            state=TaskInstanceState(data["state"]),
            error=data["error"],
            xcoms={str(k): str(v) for k, v in data["xcoms"].items()},
            skip_task_ids=tuple(str(t) for t in data["skip_task_ids"]),
            next_retry_delay=None if delay is None else timedelta(seconds=float(delay)),
            reschedule_at=None if reschedule_at is None else datetime.fromisoformat(str(reschedule_at)),
            sensor_pokes=int(data.get("sensor_pokes", 0)),
            sensor_timeout=bool(data.get("sensor_timeout", False)),
            # Absent from outcomes recorded by an older worker (kept in the outcome folder).
            callbacks=runs_from_json(data.get("callbacks", ())),
            rendered_fields=data.get("rendered_fields"),
        )


def failure_state(try_number: int, max_tries: int) -> TaskInstanceState:
    """Airflow's rule: a failed try is retried while ``try_number <= max_tries``."""
    return TaskInstanceState.UP_FOR_RETRY if try_number <= max_tries else TaskInstanceState.FAILED
