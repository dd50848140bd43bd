"""What crosses the broker and the result backend: workloads and events as JSON-able dicts.

Celery messages are JSON (never pickle: a broker is shared infrastructure and
a pickled message is code). :func:`workload_to_dict` / :func:`workload_from_dict`
carry a :class:`~windvane.core.model.workload.Workload` to a worker;
:func:`event_to_dict` / :func:`event_from_dict` carry a
:class:`~windvane.core.model.workload.TaskEvent` back in the result backend.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from windvane.core.model.workload import TaskEvent, TaskInstanceKey, Workload
from windvane.errors import ExecutorError

#: Bumped when the shape of a message changes: a worker refuses a version it does not know.
MESSAGE_VERSION = 1
#: The optional key of a message naming the executor's report list (a worker without it, or an
#: older worker, ignores it and stores a result key per report: the executor reads both).
REPLY_TO = "reply_to"


def _key_from(data: Any) -> TaskInstanceKey:
    return TaskInstanceKey(
        ti_id=int(data["ti_id"]),
        dag_run_id=int(data["dag_run_id"]),
        dag_id=str(data["dag_id"]),
        run_id=str(data["run_id"]),
        task_id=str(data["task_id"]),
        map_index=int(data.get("map_index", -1)),
    )


def workload_to_dict(workload: Workload, *, reply_to: str | None = None) -> dict[str, Any]:
    """The message body of one try; ``reply_to``: the Redis list its reports go to (None: each
    report is a result key of its own, which the executor polls)."""
    body = {"v": MESSAGE_VERSION, **dataclasses.asdict(workload)}
    if reply_to is not None:
        body[REPLY_TO] = reply_to
    return body


def reply_key_of(data: Any) -> str | None:
    """The Redis list a message asks its reports to be pushed to (None: a result key each)."""
    key = data.get(REPLY_TO) if isinstance(data, dict) else None
    return key if isinstance(key, str) and key else None


def workload_from_dict(data: Any) -> Workload:
    """The workload a message carries; :class:`ExecutorError` naming what is wrong with a bad one."""
    try:
        if data.get("v") != MESSAGE_VERSION:
            raise ExecutorError(
                f"Celery message version {data.get('v')!r} is not {MESSAGE_VERSION}: "
                "the scheduler and this worker run different Windvane versions"
            )
        fields = {f.name for f in dataclasses.fields(Workload)} - {"key"}
        values = {name: data[name] for name in fields if name in data}
        return Workload(key=_key_from(data["key"]), **values)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ExecutorError(f"malformed Celery message for a Windvane try: {exc!r} in {data!r:.300}") from exc


def event_to_dict(event: TaskEvent) -> dict[str, Any]:
    """A task event as stored in the result backend."""
    data = dataclasses.asdict(event)
    data["skipped_task_ids"] = list(event.skipped_task_ids)
    return data


def event_from_dict(data: Any) -> TaskEvent:
    """The event a result holds (raises ``KeyError``/``TypeError``/``ValueError`` on a bad one)."""
    return TaskEvent(
        key=_key_from(data["key"]),
        try_number=int(data["try_number"]),
        state=None if data["state"] is None else str(data["state"]),
        skipped_task_ids=tuple(str(t) for t in data.get("skipped_task_ids") or ()),
        at=float(data.get("at") or 0.0),
        error=None if data.get("error") is None else str(data["error"]),
        next_retry_at=None if data.get("next_retry_at") is None else float(data["next_retry_at"]),
    )
