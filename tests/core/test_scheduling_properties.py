"""Properties of scheduling over random DAGs, outcomes, schedules and dates (windvane.testing.strategies).

For any DAG and any outcome of the tasks that run: the run ends in a final state,
every task is decided exactly once, a task runs exactly when its trigger rule allows
it given its upstreams' final states, and the in-process runner (what ``windvane
dags test`` and the test fixtures use) agrees with the pure tracker the scheduler uses.
Examples are bounded so the suite stays fast.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pendulum
import pytest
from croniter import CroniterBadDateError
from hypothesis import given, settings
from hypothesis import strategies as st

from windvane import DAG, PythonOperator, TaskFailedNoRetry, TaskSkipped
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.model.run_tracker import RunTracker
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.trigger_rule import Decision, UpstreamCounts, decide
from windvane.core.timetables import CronDataIntervalTimetable, DeltaDataIntervalTimetable, next_run_info
from windvane.core.worker.in_process import run_dag_in_process
from windvane.testing.strategies import (
    DST_ZONES,
    cron_expressions,
    dags,
    logical_dates,
    schedules,
    task_outcomes,
    task_states,
)

FAILED_LEAF = {S.FAILED, S.UPSTREAM_FAILED}


def drive(
    dag: DAG, outcomes: dict[str, S], pick: Callable[[list[str]], str]
) -> tuple[RunTracker, Counter[str], list[str]]:
    """Run ``dag`` on the pure tracker: ``pick`` chooses which scheduled task ends next, with its
    outcome. Returns the tracker, how many times each task was decided, and the tasks that ran in order.
    (The order matters: an ``all_success`` task whose upstreams fail and skip ends skipped or
    upstream_failed depending on which upstream ended first, as in Airflow.)"""
    tracker = RunTracker(dag.upstream_map(), {t.task_id: t.trigger_rule for t in dag.tasks})
    decided: Counter[str] = Counter(tracker.evaluate().keys())
    ran: list[str] = []
    while scheduled := sorted(t for t, s in tracker.states.items() if s is S.SCHEDULED):
        task_id = pick(scheduled)
        ran.append(task_id)
        decided.update(tracker.set_state(task_id, outcomes[task_id]).keys())
    return tracker, decided, ran


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_dag_and_outcomes_end_with_each_task_decided_once_by_its_rule(data: st.DataObject) -> None:
    dag = data.draw(dags(max_tasks=8))
    outcomes = {t: data.draw(task_outcomes(), label=t) for t in dag.task_ids}
    tracker, decided, ran = drive(dag, outcomes, lambda ready: data.draw(st.sampled_from(ready)))

    assert tracker.all_finished and tracker.run_state() in (DagRunState.SUCCESS, DagRunState.FAILED)
    assert decided == Counter(dag.task_ids), "each task leaves 'none' exactly once"
    assert len(ran) == len(set(ran))
    upstream = dag.upstream_map()
    for task in dag.tasks:
        final_counts = UpstreamCounts.of(tracker.state(up) for up in upstream[task.task_id])
        allowed = decide(task.trigger_rule, final_counts) is Decision.RUN
        assert (task.task_id in ran) == allowed, (task.task_id, task.trigger_rule, final_counts)
        expected = outcomes[task.task_id] if task.task_id in ran else {S.SKIPPED, S.UPSTREAM_FAILED}
        assert tracker.state(task.task_id) in (expected if isinstance(expected, set) else {expected})
    leaves_failed = any(tracker.state(t.task_id) in FAILED_LEAF for t in dag.leaves)
    assert (tracker.run_state() is DagRunState.FAILED) == leaves_failed


def _act(outcome: S) -> None:
    if outcome is S.FAILED:
        raise TaskFailedNoRetry("drawn to fail")
    if outcome is S.SKIPPED:
        raise TaskSkipped("drawn to skip")


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_the_in_process_runner_agrees_with_the_pure_tracker(data: st.DataObject) -> None:
    outcome_of: dict[str, S] = {}

    def make(task_id: str) -> BaseOperator:
        return PythonOperator(task_id=task_id, python_callable=lambda: _act(outcome_of[task_id]))

    dag = data.draw(dags(max_tasks=6, make_task=make))
    outcome_of.update({t: data.draw(task_outcomes(), label=t) for t in dag.task_ids})
    weights = dag.priority_weights()
    order = {t.task_id: i for i, t in enumerate(dag.topological_sort())}
    tracker, _, _ = drive(dag, outcome_of, lambda ready: min(ready, key=lambda t: (-weights[t], order[t])))
    result = run_dag_in_process(dag, logical_date=pendulum.datetime(2024, 3, 4, tz="UTC"))
    assert result.states == dict(tracker.states)
    assert result.state is tracker.run_state()


@settings(max_examples=50, deadline=None)
@given(cron_expressions(), logical_dates(near_dst=True), st.sampled_from(DST_ZONES))
def test_cron_intervals_tile_from_any_start_near_a_dst_change(
    expression: str, start: pendulum.DateTime, zone: str
) -> None:
    timetable = CronDataIntervalTimetable(expression, zone)
    last = None
    for _ in range(3):
        info = next_run_info(
            timetable,
            start_date=start,
            end_date=None,
            catchup=True,
            last_interval=last,
            now=pendulum.datetime(2100, 1, 1, tz="UTC"),
        )
        assert info is not None
        interval = info.data_interval
        assert interval.start < interval.end and interval.start >= start.subtract(days=367 * 5)
        if last is not None:
            assert interval.start == last.end, (expression, zone, last, interval)
        last = interval


@pytest.mark.xfail(
    raises=CroniterBadDateError,
    strict=True,
    reason="found by cron_expressions(): a day of month OR an n-th weekday makes croniter give up",
)
@pytest.mark.parametrize("expression", ["* * L * 1#2", "3 3 5 4-6 0#4"])
def test_a_day_of_month_or_an_nth_weekday_has_a_next_run(expression: str) -> None:
    timetable = CronDataIntervalTimetable(expression, "America/New_York")
    start = pendulum.datetime(2025, 3, 30, 0, 57, tz="UTC")
    now = pendulum.datetime(2100, 1, 1, tz="UTC")
    info = next_run_info(
        timetable, start_date=start, end_date=None, catchup=True, last_interval=None, now=now
    )
    assert info is not None


@settings(max_examples=60, deadline=None)
@given(schedules(), logical_dates(near_dst=True))
def test_every_drawn_schedule_is_accepted_by_a_dag(schedule: object, start: pendulum.DateTime) -> None:
    dag = DAG("scheduled", schedule=schedule, start_date=start)
    if isinstance(dag.timetable, CronDataIntervalTimetable | DeltaDataIntervalTimetable):
        assert dag.timetable.summary


@given(task_states(finished=True))
def test_finished_states_are_final(state: S) -> None:
    assert state.finished and state not in (S.NONE, S.SCHEDULED, S.QUEUED, S.RUNNING, S.UP_FOR_RETRY)
