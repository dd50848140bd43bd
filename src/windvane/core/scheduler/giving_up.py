"""What the book decides for a try it gives up on (a zombie, or one queued past
``task_queued_timeout_seconds``), and how a zombie is announced (apart from :mod:`.book` for size)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pendulum

from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey
from windvane.core.scheduler.model import retry_delay

if TYPE_CHECKING:
    from windvane.core.scheduler import db
    from windvane.core.scheduler.announce import Announcer
    from windvane.core.scheduler.model import ActiveRun, DagEntry

log = logging.getLogger("windvane.scheduler")


def verdict(
    runs: Mapping[int, ActiveRun], zombie: db.Zombie, now: pendulum.DateTime
) -> tuple[S, pendulum.DateTime | None]:
    """What a try given up on becomes: ``up_for_retry`` (and when) while it has tries left, else
    ``failed``; the retry comes after the task's retry delay if its run is among ``runs``."""
    if zombie.try_number > zombie.max_tries:
        return S.FAILED, None
    run = runs.get(zombie.dag_run_id)
    if run is None:
        return S.UP_FOR_RETRY, None
    return S.UP_FOR_RETRY, now + retry_delay(run.dag.tasks[zombie.task_id], zombie.try_number)


def announce_zombie(
    announce: Announcer,
    runs: Mapping[int, ActiveRun],
    dags: Mapping[str, DagEntry],
    zombie: db.Zombie,
    key: TaskInstanceKey,
    now: pendulum.DateTime,
    reason: str,
    state: S,
    retry_at: pendulum.DateTime | None,
) -> None:
    """Tell the observers (and the log) that the running try ``zombie`` was given up on."""
    entry = dags.get(key.dag_id)
    run = runs.get(zombie.dag_run_id)
    dag = run.dag if run is not None else entry.dag if entry is not None else None
    announce.try_zombie(
        key,
        dag.tasks.get(key.task_id) if dag is not None else None,
        try_number=zombie.try_number,
        max_tries=zombie.max_tries,
        state=state,
        now=now,
        error=reason,
        next_retry_at=retry_at,
    )
    log.error(
        "task instance %s (try %d) is a zombie; marking %s", key.task_id, zombie.try_number, state.value
    )
