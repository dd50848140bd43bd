"""The explanation says "ready" exactly when the scheduler would queue the task instance.

Random DAGs (trigger rules, pools, pool slots, depends_on_past, max_active_tis_per_dag,
max_active_tasks, paused), random task-instance states over two runs, pool sizes, executor
slots, retry times and previous-run states: the scheduler's book is loaded with them as its
polling would, releases due retries and selects; :func:`windvane.core.model.why.explain`,
given the same facts, must call the target ready exactly when the book queues it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from windvane.core.model.clock import FakeClock
from windvane.core.model.run_tracker import RunTracker
from windvane.core.model.serialized_dag import SerializedDag, TaskSpec
from windvane.core.model.states import OCCUPYING_STATES, DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.trigger_rule import Decision, TriggerRule, UpstreamCounts, decide
from windvane.core.model.why import explain
from windvane.core.model.why_types import PoolFacts, TiFacts, Verdict, WhyCode
from windvane.core.scheduler import db
from windvane.core.scheduler.announce import Announcer
from windvane.core.scheduler.book import Book
from windvane.core.scheduler.model import DagEntry
from windvane.core.scheduler.observer import SchedulerObserver
from windvane.core.scheduler.pass_work import PassWork
from windvane.core.store import dag_runs

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")
POOLS = ("default_pool", "p1", "p2")
STATES = [
    S.NONE,
    S.SCHEDULED,
    S.QUEUED,
    S.RUNNING,
    S.SUCCESS,
    S.FAILED,
    S.SKIPPED,
    S.UPSTREAM_FAILED,
    S.UP_FOR_RETRY,
]


@dataclass
class World:
    dag: SerializedDag
    paused: bool
    target: str
    run1: dict[str, S]
    run2: dict[str, S]
    capacity: dict[str, int]
    open_slots: int
    retry_at: datetime
    previous: S | None


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n = draw(st.integers(1, 5))
    ids = [f"t{i}" for i in range(n)]
    upstream = {t: tuple(u for u in ids[:i] if draw(st.booleans())) for i, t in enumerate(ids)}
    tasks = {
        t: TaskSpec(
            task_id=t,
            operator="X",
            upstream=upstream[t],
            downstream=tuple(d for d in ids if t in upstream[d]),
            trigger_rule=draw(st.sampled_from(list(TriggerRule))).value,
            pool=draw(st.sampled_from(POOLS)),
            pool_slots=draw(st.integers(1, 3)),
            depends_on_past=draw(st.sampled_from([False, False, True])),
            max_active_tis_per_dag=draw(st.none() | st.integers(1, 2)),
        )
        for t in ids
    }
    dag = SerializedDag("d", "/dags/d.py", {}, "UTC", tasks, max_active_tasks=draw(st.integers(1, 8)))
    capacity = {p: draw(st.integers(0, 6)) for p in POOLS if p == "default_pool" or draw(st.booleans())}
    target = draw(st.sampled_from(ids))
    run1 = {t: draw(st.sampled_from(STATES)) for t in ids}
    # Mostly a task instance not started yet: the states the gates decide.
    run1[target] = draw(st.sampled_from([S.NONE, S.NONE, S.SCHEDULED, S.SCHEDULED, S.UP_FOR_RETRY, *STATES]))
    return World(
        dag=dag,
        paused=draw(st.sampled_from([False, False, False, True])),
        target=target,
        run1=run1,
        run2={t: draw(st.sampled_from(STATES)) for t in ids},
        capacity=capacity,
        open_slots=draw(st.sampled_from([0, 1, 2, 3, 8])),
        retry_at=NOW + timedelta(seconds=draw(st.sampled_from([-60, 0, 60]))),
        previous=draw(st.none() | st.sampled_from(STATES)),
    )


def settled(w: World, states: dict[str, S]) -> dict[str, S]:
    """The states as the scheduler leaves them in the database after a pass (skips and
    upstream_failed cascaded); the target stays as drawn (a pass may not have decided it yet)."""
    tracker = RunTracker(w.dag.upstream_map, w.dag.rules, states)
    tracker.evaluate([t for t in w.dag.tasks if t != w.target])
    return {**dict(tracker.states), w.target: states[w.target]}


def scheduler_queues(w: World, run1: dict[str, S], run2: dict[str, S]) -> bool:
    """Load both runs into a real book, release due retries, select with only the target ready."""
    book = Book(Announcer(SchedulerObserver(), FakeClock(NOW)), previous_state=lambda *_: w.previous)
    book.dags["d"] = DagEntry("d", w.dag.dag_hash, w.paused, True, w.dag)
    book.pool_capacity = dict(w.capacity)
    work = PassWork()
    for pk, states in ((1, run1), (2, run2)):
        row = dag_runs.RunRow(pk, "d", f"r{pk}", "manual", "running", NOW.add(days=pk), None, None, {}, NOW)
        tis = [
            db.TiRow(pk * 100 + i, pk, t, s.value, 1, 3, w.retry_at if s is S.UP_FOR_RETRY else None)
            for i, (t, s) in enumerate(states.items())
        ]
        book.load_run(row, w.dag, tis, NOW, work)
    book.release_retries(NOW.timestamp(), work)
    target_id = 100 + list(w.dag.tasks).index(w.target)
    for run in book.runs.values():
        for ti in run.tis.values():
            if ti.ti_id != target_id:
                book.ready.discard(ti.ti_id)
    book.select(w.open_slots, work)
    return any(ti.ti_id == target_id for _, ti in work.queued)


def facts(w: World, run1: dict[str, S], run2: dict[str, S]) -> TiFacts:
    spec = w.dag.tasks[w.target]
    occupying = [(t, s) for run in (run1, run2) for t, s in run.items() if s in OCCUPYING_STATES]
    pool = spec.pool
    return TiFacts(
        dag=w.dag,
        task_id=w.target,
        run_id="r1",
        run_state=DagRunState.RUNNING,
        state=run1[w.target],
        try_number=1,
        max_tries=3,
        upstream_states={u: run1[u] for u in spec.upstream},
        is_paused=w.paused,
        active_runs=2,
        dag_active_tis=len(occupying),
        task_active_tis=sum(1 for t, _ in occupying if t == w.target),
        pool=PoolFacts(
            pool,
            w.capacity.get(pool),
            sum(w.dag.tasks[t].pool_slots for t, _ in occupying if w.dag.tasks[t].pool == pool),
        ),
        now=NOW,
        scheduler_heartbeat_age=1.0,
        scheduler_threshold=30.0,
        previous_state=w.previous,
        next_retry_at=w.retry_at if run1[w.target] is S.UP_FOR_RETRY else None,
        executor_open_slots=w.open_slots,
    )


@settings(max_examples=400, deadline=None)
@given(worlds())
def test_ready_exactly_when_the_scheduler_queues_it(w: World) -> None:
    run1, run2 = settled(w, w.run1), settled(w, w.run2)
    answer = explain(facts(w, run1, run2))
    assert answer.ready == scheduler_queues(w, run1, run2), answer.to_dict()
    assert answer.ready == (not answer.reasons)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(list(TriggerRule)),
    st.lists(st.sampled_from([*STATES, S.REMOVED]), min_size=1, max_size=6),
)
def test_a_trigger_rule_waits_only_on_unfinished_upstreams(rule: TriggerRule, states: list[S]) -> None:
    """``upstream_not_done`` names unfinished upstreams: a rule never waits once all are finished."""
    if decide(rule, UpstreamCounts.of(states)) is Decision.WAIT:
        assert any(not s.finished for s in states)


def test_the_verdict_of_each_state_outside_the_gates() -> None:
    """Finished, running and queued task instances are not explained by the gates."""
    w = World(
        dag=SerializedDag("d", "/d.py", {}, "UTC", {"t0": TaskSpec("t0", "X", (), ())}),
        paused=False,
        target="t0",
        run1={"t0": S.SUCCESS},
        run2={"t0": S.NONE},
        capacity={"default_pool": 1},
        open_slots=1,
        retry_at=NOW,
        previous=None,
    )
    expected = {
        S.SUCCESS: (Verdict.FINISHED, WhyCode.ALREADY_DONE),
        S.RUNNING: (Verdict.RUNNING, WhyCode.ALREADY_RUNNING),
        S.QUEUED: (Verdict.QUEUED, WhyCode.QUEUED_WAITING_FOR_EXECUTOR),
    }
    for state, (verdict, code) in expected.items():
        answer = explain(facts(w, {"t0": state}, {"t0": S.NONE}))
        assert (answer.verdict, answer.codes()) == (verdict, [code.value])
