"""The scheduler's gates: each limit a ready task instance must pass to be queued, as one pure predicate.

The scheduler (:mod:`windvane.core.scheduler.book`, ``queueing``, ``runs``,
``polling``) calls these to decide, and :mod:`windvane.core.model.why` calls
the same ones to explain a task instance that does not run, so the two cannot
disagree. Together with :func:`windvane.core.model.trigger_rule.decide` (the
trigger rule) they are every rule of readiness; none is written twice.
"""

from __future__ import annotations

from windvane.core.model.states import TaskInstanceState as S

#: States of a task's previous try that let a ``depends_on_past`` task run (Airflow's rule).
PAST_OK = frozenset({S.SUCCESS, S.SKIPPED})


def past_allows(previous: S | None) -> bool:
    """``depends_on_past``: the task's state in the DAG's latest earlier run lets it run
    (None: there is no earlier run, which counts as a success)."""
    return previous is None or previous in PAST_OK


def dag_task_limit(*, paused: bool, max_active_tasks: int) -> int:
    """How many tries of a DAG may be queued or running at once: none while it is paused."""
    return 0 if paused else max_active_tasks


def dag_has_room(active: int, limit: int) -> bool:
    """The DAG's queued + running tries (``active``) leave room for one more under ``limit``."""
    return active < limit


def pool_has_room(needed: int, capacity: int, used: int) -> bool:
    """A try taking ``needed`` slots fits in a pool of ``capacity`` slots of which ``used`` are taken."""
    return needed <= capacity - used


def task_has_room(active: int, limit: int | None) -> bool:
    """``max_active_tis_per_dag``: the task's queued + running tries over all runs leave room."""
    return limit is None or active < limit


def executor_has_room(open_slots: int) -> bool:
    """The executor (bounded by ``parallelism``) has a free slot."""
    return open_slots > 0


def runs_have_room(active: int, limit: int) -> bool:
    """``max_active_runs``: another run of the DAG may start while ``active`` are running."""
    return active < limit


def retry_due(next_retry_at: float | None, now_ts: float) -> bool:
    """A try waiting to retry (or to be rescheduled) may be scheduled again (times in Unix seconds)."""
    return (next_retry_at or 0.0) <= now_ts


def heartbeat_fresh(age_seconds: float | None, threshold_seconds: float) -> bool:
    """A job whose latest heartbeat is ``age_seconds`` old counts as alive (None: no such job)."""
    return age_seconds is not None and age_seconds <= threshold_seconds
