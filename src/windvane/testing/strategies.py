"""Hypothesis strategies for Windvane: random valid DAGs, cron expressions, schedules, logical dates, states.

* :func:`dags` — a :class:`~windvane.DAG` whose edges only go from an earlier
  task to a later one in a drawn order (acyclic by construction, shrinks
  towards fewer tasks and edges), with random trigger rules, fan-in and fan-out;
* :func:`cron_expressions` — five-field expressions Windvane accepts (numbers,
  names, ranges, wrap-around ranges, steps, lists, ``L``, ``D#N``) and presets;
* :func:`schedules` — anything a DAG's ``schedule`` takes: None, ``"@once"``,
  cron, a ``timedelta``;
* :func:`logical_dates` — aware UTC datetimes, with ``near_dst=True`` within
  36 hours of a daylight-saving change of the zones in :data:`DST_TRANSITIONS`;
* :func:`task_states` — task instance states (``finished=True``: only final ones),
  :func:`task_outcomes` — how a task that runs can end.

Needs ``hypothesis`` (a dev dependency of Windvane, not a runtime one)::

    from hypothesis import given
    from windvane.testing.strategies import dags

    @given(dags(max_tasks=6))
    def test_every_dag_sorts(dag):
        assert len(dag.topological_sort()) == len(dag.tasks)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import pendulum
from hypothesis import strategies as st

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.model.states import FINISHED_STATES, TaskInstanceState
from windvane.core.model.trigger_rule import TriggerRule

#: DST changes (UTC instants) of Europe (last Sundays of March/October), the USA (second Sunday of
#: March, first of November) and Sydney (first Sundays of April/October), 2024-2026.
DST_TRANSITIONS = tuple(
    pendulum.datetime(*parts, tz="UTC")
    for parts in [
        (2024, 3, 10, 7), (2024, 3, 31, 1), (2024, 4, 6, 16), (2024, 10, 5, 16), (2024, 10, 27, 1),
        (2024, 11, 3, 6), (2025, 3, 9, 7), (2025, 3, 30, 1), (2025, 4, 5, 16), (2025, 10, 4, 16),
        (2025, 10, 26, 1), (2025, 11, 2, 6), (2026, 3, 8, 7), (2026, 3, 29, 1),
    ]
)  # fmt: skip
#: Zones those transitions belong to, for start dates and cron timezones.
DST_ZONES = ("Europe/Amsterdam", "America/New_York", "Australia/Sydney")
#: How a task that runs can end.
OUTCOMES = (TaskInstanceState.SUCCESS, TaskInstanceState.FAILED, TaskInstanceState.SKIPPED)

task_ids = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


def task_states(*, finished: bool = False) -> st.SearchStrategy[TaskInstanceState]:
    """Any task instance state, or with ``finished`` only the final ones."""
    states = [s for s in TaskInstanceState if not finished or s in FINISHED_STATES]
    return st.sampled_from(states)


def task_outcomes() -> st.SearchStrategy[TaskInstanceState]:
    """``success``, ``failed`` or ``skipped``: how a task that runs ends."""
    return st.sampled_from(OUTCOMES)


@st.composite
def dags(
    draw: st.DrawFn,
    *,
    min_tasks: int = 1,
    max_tasks: int = 8,
    max_upstream: int = 3,
    trigger_rules: Sequence[TriggerRule] = tuple(TriggerRule),
    schedule: st.SearchStrategy[object] | None = None,
    make_task: Callable[[str], BaseOperator] | None = None,
    dag_id: str = "hypothesis_dag",
) -> DAG:
    """A valid DAG: tasks made by ``make_task(task_id)`` (default :class:`EmptyOperator`) inside the
    DAG's context, each with up to ``max_upstream`` upstreams drawn among the tasks before it."""
    count = draw(st.integers(min_value=min_tasks, max_value=max_tasks))
    ids = draw(st.lists(task_ids, min_size=count, max_size=count, unique=True))
    rules = [draw(st.sampled_from(list(trigger_rules))) for _ in ids]
    upstreams = [
        draw(st.lists(st.sampled_from(ids[:i]), unique=True, max_size=min(max_upstream, i))) if i else []
        for i in range(count)
    ]
    chosen_schedule = draw(schedule) if schedule is not None else None
    factory = make_task or (lambda task_id: EmptyOperator(task_id=task_id))
    with DAG(dag_id, schedule=chosen_schedule, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
        tasks = {}
        for task_id, rule in zip(ids, rules, strict=True):
            tasks[task_id] = factory(task_id)
            tasks[task_id].trigger_rule = rule
        for task_id, ups in zip(ids, upstreams, strict=True):
            for up in ups:
                tasks[up] >> tasks[task_id]
    return dag


def _field(low: int, high: int, names: Sequence[str] = ()) -> st.SearchStrategy[str]:
    number = st.integers(min_value=low, max_value=high)
    single = number.map(str) | (st.sampled_from(list(names)) if names else number.map(str))
    pair = st.tuples(number, number).map(sorted)
    ranges = pair.map(lambda p: f"{p[0]}-{p[1]}")
    wrapped = st.tuples(number, number).filter(lambda p: p[0] > p[1]).map(lambda p: f"{p[0]}-{p[1]}")
    step = st.integers(min_value=1, max_value=max(1, (high - low) // 2))
    stepped = st.tuples(pair, step).map(lambda x: f"{x[0][0]}-{x[0][1]}/{x[1]}") | step.map(
        lambda s: f"*/{s}"
    )
    item = single | ranges | wrapped | stepped
    listed = st.lists(single | ranges, min_size=2, max_size=3).map(",".join)
    return st.just("*") | item | listed


@st.composite
def cron_expressions(draw: st.DrawFn, *, presets: bool = True) -> str:
    """A cron expression Windvane accepts (``presets``: sometimes ``@daily`` and friends)."""
    if presets and draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(st.sampled_from(["@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"]))
    minute = draw(_field(0, 59))
    hour = draw(_field(0, 23))
    dom = draw(_field(1, 28) | st.just("L"))
    month = draw(_field(1, 12, ["JAN", "MAR", "jun", "Dec"]))
    nth = st.sampled_from(["1#2", "5#1", "0#4"])
    # "D#N" only with day-of-month "*": croniter cannot walk the union of a day of month and an
    # n-th weekday (a known bug, xfailed in tests/core/test_scheduling_properties.py).
    dow = draw(_field(0, 6, ["MON", "fri", "SUN"]) | (nth if dom == "*" else st.just("*")))
    return f"{minute} {hour} {dom} {month} {dow}"


def schedules() -> st.SearchStrategy[object]:
    """A DAG ``schedule``: None, ``"@once"``, a cron expression or a timedelta (5 minutes to 3 days)."""
    deltas = st.integers(min_value=5, max_value=3 * 24 * 60).map(lambda m: dt.timedelta(minutes=m))
    return st.none() | st.just("@once") | cron_expressions() | deltas


def logical_dates(
    *, near_dst: bool = False, min_year: int = 2020, max_year: int = 2030
) -> st.SearchStrategy[pendulum.DateTime]:
    """An aware UTC datetime (whole seconds); with ``near_dst`` within 36 hours of a DST change."""
    if near_dst:
        return st.builds(
            lambda at, offset: at.add(seconds=offset),
            st.sampled_from(DST_TRANSITIONS),
            st.integers(min_value=-36 * 3600, max_value=36 * 3600),
        )
    naive = st.datetimes(min_value=dt.datetime(min_year, 1, 1), max_value=dt.datetime(max_year, 12, 31))
    return naive.map(lambda d: pendulum.instance(d.replace(microsecond=0), tz="UTC"))
