"""Why isn't this task running? The answer from the scheduler's own rules (pure).

:func:`explain` walks the gates a task instance passes on its way to the
executor, in the scheduler's order: a live scheduler, a running run (under
``max_active_runs``), its trigger rule (:func:`~windvane.core.model.trigger_rule.decide`,
the function the run tracker calls), a retry's or reschedule's wait, then the
limits the scheduler's queueing checks (:mod:`windvane.core.model.readiness`,
the predicates it calls): ``depends_on_past``, paused DAG, ``max_active_tasks``,
pool slots, ``max_active_tis_per_dag``, executor slots. Every gate that holds
it back now is a reason; with none it is ready. No rule is restated here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from windvane.core.model import readiness
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.trigger_rule import Decision, UpstreamCounts, decide
from windvane.core.model.why_types import Explanation, Reason, TiFacts, Verdict, WhyCode

#: States that wait for ``next_retry_at`` to pass (a sensor's reschedule, where it exists, too).
_WAITING_FOR_TIME = frozenset(s for s in S if s.value in ("up_for_retry", "up_for_reschedule"))


def explain(f: TiFacts) -> Explanation:
    """The verdict and every reason that holds the task instance of ``f`` back now."""
    state = f.state
    if state.finished:
        reason = Reason(WhyCode.ALREADY_DONE, f"Already finished: {state.value}.", {"state": state.value})
        return _answer(f, Verdict.FINISHED, [reason])
    if state is S.RUNNING:
        reason = Reason(WhyCode.ALREADY_RUNNING, "It is running.", {"try_number": f.try_number})
        return _answer(f, Verdict.RUNNING, [reason, *_scheduler(f)])
    if state is S.QUEUED:
        return _answer(f, Verdict.QUEUED, [_queued(f), *_scheduler(f)])
    reasons = _scheduler(f)
    if f.run_state.finished:
        reasons.append(_run_finished(f))
        return _answer(f, Verdict.WILL_NOT_RUN, reasons)
    reasons += _run_queued(f)
    if state is S.NONE:
        decision = decide(f.spec.rule, UpstreamCounts.of(f.upstream_states.values()))
        if decision in (Decision.SKIP, Decision.UPSTREAM_FAILED):
            reasons.append(_rule_unmet(f, decision))
            return _answer(f, Verdict.WILL_NOT_RUN, reasons)
        if decision is Decision.WAIT:
            reasons.append(_upstream_not_done(f))
        elif f.spec.is_noop:  # the scheduler marks it success at once, with no slot (as Airflow)
            return _answer(f, Verdict.WAITING if reasons else Verdict.READY, reasons)
    elif state in _WAITING_FOR_TIME and not readiness.retry_due(_ts(f.next_retry_at), f.now.timestamp()):
        reasons.append(_time_wait(f))
    reasons += _limits(f)
    return _answer(f, Verdict.WAITING if reasons else Verdict.READY, reasons)


def _answer(f: TiFacts, verdict: Verdict, reasons: list[Reason]) -> Explanation:
    return Explanation(f.dag.dag_id, f.task_id, f.run_id, f.state.value, verdict, tuple(reasons))


def _ts(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _seconds(value: float) -> str:
    value = max(0, round(value))
    minutes, seconds = divmod(value, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m {seconds}s"
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


# -- the run and the scheduler ------------------------------------------------------------------------
def _scheduler(f: TiFacts) -> list[Reason]:
    age, threshold = f.scheduler_heartbeat_age, f.scheduler_threshold
    if readiness.heartbeat_fresh(age, threshold):
        return []
    details = {"heartbeat_age_seconds": age, "threshold_seconds": threshold}
    if age is None:
        message = "No scheduler is running: nothing is scheduled or queued until one starts."
    else:
        message = (
            f"The scheduler has not heartbeated for {_seconds(age)} (threshold {_seconds(threshold)}): "
            "it is stopped or stuck, so nothing is scheduled or queued."
        )
    return [Reason(WhyCode.SCHEDULER_NOT_HEARTBEATING, message, details)]


def _run_finished(f: TiFacts) -> Reason:
    message = (
        f"Its run {f.run_id} is {f.run_state.value}, not running: clear the task instance to run it again."
    )
    return Reason(WhyCode.RUN_NOT_RUNNING, message, {"run_state": f.run_state.value})


def _run_queued(f: TiFacts) -> list[Reason]:
    if f.run_state is not DagRunState.QUEUED:
        return []
    limit = f.dag.max_active_runs
    details = {"run_state": f.run_state.value, "active_runs": f.active_runs, "max_active_runs": limit}
    if not readiness.runs_have_room(f.active_runs, limit):
        message = (
            f"Its run {f.run_id} is queued: DAG {f.dag.dag_id} already has {f.active_runs} of "
            f"max_active_runs={limit} runs running."
        )
        return [Reason(WhyCode.MAX_ACTIVE_RUNS, message, details)]
    message = f"Its run {f.run_id} is queued: the scheduler starts it at its next poll."
    return [Reason(WhyCode.RUN_NOT_RUNNING, message, details)]


def _queued(f: TiFacts) -> Reason:
    since = f" since {f.queued_at.isoformat()}" if f.queued_at else ""
    message = f"Queued{since}: waiting for the executor to start it (try {f.try_number})."
    details = {"queued_at": _iso(f.queued_at), "try_number": f.try_number, "queue": f.spec.queue}
    return Reason(WhyCode.QUEUED_WAITING_FOR_EXECUTOR, message, details)


# -- the trigger rule and waits -----------------------------------------------------------------------
def _upstreams(f: TiFacts) -> list[dict[str, str]]:
    return [{"task_id": t, "state": s.value} for t, s in sorted(f.upstream_states.items())]


def _upstream_not_done(f: TiFacts) -> Reason:
    waiting = {t: s for t, s in sorted(f.upstream_states.items()) if not s.finished}
    names = ", ".join(f"{t} ({s.value})" for t, s in waiting.items())
    rule = f.spec.rule.value
    message = (
        f"Waiting for {len(waiting)} of {len(f.upstream_states)} upstream task(s) to finish: "
        f"{names}; trigger rule {rule}."
    )
    details = {"trigger_rule": rule, "waiting_for": list(waiting), "upstream": _upstreams(f)}
    return Reason(WhyCode.UPSTREAM_NOT_DONE, message, details)


def _rule_unmet(f: TiFacts, decision: Decision) -> Reason:
    outcome = decision.as_state()
    assert outcome is not None
    ended = {t: s for t, s in sorted(f.upstream_states.items()) if s.finished and s is not S.SUCCESS}
    names = ", ".join(f"{t} ({s.value})" for t, s in ended.items()) or "none"
    rule = f.spec.rule.value
    message = (
        f"Trigger rule {rule} cannot be met (upstream: {names}): "
        f"the scheduler marks it {outcome.value}; it will not run unless its upstreams are cleared."
    )
    details = {"trigger_rule": rule, "will_be": outcome.value, "upstream": _upstreams(f)}
    return Reason(WhyCode.TRIGGER_RULE_UNMET, message, details)


def _time_wait(f: TiFacts) -> Reason:
    until = f.next_retry_at
    left = f" (in {_seconds(until.timestamp() - f.now.timestamp())})" if until else ""
    details = {"until": _iso(until), "try_number": f.try_number, "max_tries": f.max_tries}
    if f.state is S.UP_FOR_RETRY:
        message = (
            f"Try {f.try_number} failed; it retries (try {f.try_number + 1} of {f.max_tries + 1}) "
            f"at {_iso(until)}{left}."
        )
        return Reason(WhyCode.RETRY_WAIT, message, details)
    message = f"The sensor asked to be rescheduled: it pokes again at {_iso(until)}{left}."
    return Reason(WhyCode.RESCHEDULE_WAIT, message, details)


# -- the limits of queueing ---------------------------------------------------------------------------
def _limits(f: TiFacts) -> list[Reason]:
    spec, dag = f.spec, f.dag
    reasons: list[Reason] = []
    if spec.depends_on_past and not readiness.past_allows(f.previous_state):
        prev = f.previous_state.value if f.previous_state else "none"
        message = (
            f"depends_on_past: in the previous run ({f.previous_run_id}) this task is {prev}; "
            "it runs once that one succeeded or was skipped."
        )
        details: dict[str, Any] = {"previous_run_id": f.previous_run_id, "previous_state": prev}
        reasons.append(Reason(WhyCode.DEPENDS_ON_PAST, message, details))
    limit = readiness.dag_task_limit(paused=f.is_paused, max_active_tasks=dag.max_active_tasks)
    if not readiness.dag_has_room(f.dag_active_tis, limit):
        details = {"active": f.dag_active_tis, "max_active_tasks": dag.max_active_tasks}
        if f.is_paused:
            message = f"DAG {dag.dag_id} is paused: none of its tasks is queued until it is unpaused."
            reasons.append(Reason(WhyCode.DAG_PAUSED, message, {"paused": True}))
        else:
            message = (
                f"DAG {dag.dag_id} has {f.dag_active_tis} task instances queued or running, "
                f"its max_active_tasks={dag.max_active_tasks}."
            )
            reasons.append(Reason(WhyCode.MAX_ACTIVE_TASKS, message, details))
    reasons += _pool(f)
    if not readiness.task_has_room(f.task_active_tis, spec.max_active_tis_per_dag):
        message = (
            f"Task {spec.task_id} has {f.task_active_tis} task instances queued or running over all "
            f"runs, its max_active_tis_per_dag={spec.max_active_tis_per_dag}."
        )
        details = {"active": f.task_active_tis, "max_active_tis_per_dag": spec.max_active_tis_per_dag}
        reasons.append(Reason(WhyCode.MAX_ACTIVE_TIS_PER_DAG, message, details))
    slots = f.executor_open_slots
    if slots is not None and not readiness.executor_has_room(slots):
        message = "The executor has no open slot: parallelism is reached by the tries queued or running."
        reasons.append(Reason(WhyCode.EXECUTOR_FULL, message, {"open_slots": slots}))
    return reasons


def _pool(f: TiFacts) -> list[Reason]:
    pool, needed = f.pool, f.spec.pool_slots
    if pool.capacity is None:
        message = f"Pool {pool.name!r} does not exist: create it (windvane pools set) for the task to run."
        return [Reason(WhyCode.POOL_MISSING, message, {"pool": pool.name, "pool_slots": needed})]
    if readiness.pool_has_room(needed, pool.capacity, pool.used):
        return []
    named = ", ".join(f"{h.dag_id}.{h.task_id} ({h.state})" for h in pool.holders[:3])
    more = pool.holders_total - min(3, len(pool.holders))
    holders = f" by {named}" + (f" and {more} more" if more > 0 else "") if named else ""
    message = (
        f"Pool {pool.name!r} is full: {pool.used} of {pool.capacity} slots taken{holders}; "
        f"this task needs {needed}."
    )
    if needed > pool.capacity:
        message += " It can never fit: the pool is smaller than its pool_slots."
    details = {
        "pool": pool.name,
        "slots": pool.capacity,
        "used": pool.used,
        "needed": needed,
        "holders": [h.to_dict() for h in pool.holders],
        "holders_total": pool.holders_total,
    }
    return [Reason(WhyCode.POOL_FULL, message, details)]
