"""The scheduler's book on its own: slot accounting, waits, adoption and zombies, with no database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum
import pytest

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.model.clock import FakeClock
from windvane.core.model.events import (
    RunFinished,
    TryFinished,
    TryLost,
    TryQueued,
    TryRescheduled,
    TryScheduled,
    TryStarted,
    TryZombie,
)
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskEvent, TaskInstanceKey
from windvane.core.scheduler import db
from windvane.core.scheduler.announce import Announcer
from windvane.core.scheduler.book import Book
from windvane.core.scheduler.model import ActiveRun, DagEntry
from windvane.core.scheduler.observer import SchedulerObserver
from windvane.core.scheduler.pass_work import GaveUp, PassWork
from windvane.core.scheduler.pool_usage import pool_usage
from windvane.core.store import dag_runs

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")
START = pendulum.datetime(2024, 1, 1, tz="UTC")


class Noop(EmptyOperator):
    is_noop = False


class Events(SchedulerObserver):
    """Keeps every lifecycle event it hears."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    def run_finished(self, event: RunFinished) -> None:
        self.seen.append(event)

    def try_scheduled(self, event: TryScheduled) -> None:
        self.seen.append(event)

    def try_queued(self, event: TryQueued) -> None:
        self.seen.append(event)

    def try_started(self, event: TryStarted) -> None:
        self.seen.append(event)

    def try_finished(self, event: TryFinished) -> None:
        self.seen.append(event)

    def try_lost(self, event: TryLost) -> None:
        self.seen.append(event)

    def try_rescheduled(self, event: TryRescheduled) -> None:
        self.seen.append(event)

    def try_zombie(self, event: TryZombie) -> None:
        self.seen.append(event)

    def of(self, kind: type[object]) -> list[object]:
        return [e for e in self.seen if isinstance(e, kind)]


class Harness:
    """A book over one DAG, fed rows as the scheduler's polling would."""

    def __init__(self, dag: DAG, *, previous: dict[str, str] | None = None) -> None:
        self.clock = FakeClock(NOW)
        self.events = Events()
        self.previous = previous or {}
        self.book = Book(Announcer(self.events, self.clock), previous_state=self._previous)
        self.dag: SerializedDag = serialize_dag(dag)
        self.book.dags[self.dag.dag_id] = DagEntry(self.dag.dag_id, self.dag.dag_hash, False, True, self.dag)
        self.book.pool_capacity = {"default_pool": 128}
        self.work = PassWork()

    def _previous(self, dag_id: str, task_id: str, before: datetime) -> str | None:
        return self.previous.get(task_id)

    def load(
        self, states: dict[str, tuple[str, int]], *, pk: int = 1, logical: pendulum.DateTime = NOW
    ) -> ActiveRun:
        """Load run ``pk``: task id -> (state, try number); other tasks are ``none``, try 0."""
        row = dag_runs.RunRow(
            pk, self.dag.dag_id, f"run{pk}", "manual", "running", logical, None, None, {}, NOW
        )
        tis = []
        for i, task_id in enumerate(self.dag.tasks):
            state, try_number = states.get(task_id, ("none", 0))
            tis.append(db.TiRow(pk * 100 + i, pk, task_id, state, try_number, 3, None))
        return self.book.load_run(row, self.dag, tis, NOW, self.work)

    def ti_id(self, task_id: str, pk: int = 1) -> int:
        return self.book.runs[pk].tis[task_id].ti_id

    def event(self, task_id: str, state: str | None, *, pk: int = 1, **extra: object) -> ActiveRun | None:
        ti = self.book.runs[pk].tis[task_id]
        event = TaskEvent(ti.key, ti.try_number, state, **extra)  # type: ignore[arg-type]
        return self.book.record(event, self.work)

    def queue_ready(self) -> list[str]:
        """Select and commit what is ready, as a pass would; the task ids queued."""
        self.book.select(64, self.work)
        chosen = self.work.queued
        for run, ti in chosen:
            self.book.mark_queued(run, ti, self.clock.now(), self.clock.now().timestamp())
        self.work = PassWork()
        return [ti.task_id for _, ti in chosen]


def _three_tasks() -> DAG:
    with DAG("slots", schedule=None, start_date=START) as dag:
        Noop(task_id="a", pool="p", pool_slots=2)
        Noop(task_id="b")
        Noop(task_id="c")
    return dag


def test_loading_counts_queued_and_running_tries_and_a_reload_does_not_count_them_twice() -> None:
    h = Harness(_three_tasks())
    h.book.pool_capacity["p"] = 4
    h.load({"a": ("queued", 1), "b": ("running", 1), "c": ("scheduled", 0)})
    occupancy = h.book.occupancy
    assert occupancy.pool_slots_used == {"p": 2, "default_pool": 1}
    assert occupancy.per_dag["slots"] == 2
    assert h.book.adopted == {h.ti_id("a"), h.ti_id("b")}, "tries found at load are adopted"
    h.load({"a": ("queued", 1), "b": ("running", 1), "c": ("scheduled", 0)})
    assert occupancy.pool_slots_used == {"p": 2, "default_pool": 1}
    assert occupancy.per_dag["slots"] == 2
    assert h.queue_ready() == ["c"], "a task ready before and after a reload is queued once"
    usage = pool_usage(h.book, set())
    assert (usage["p"].queued_slots, usage["default_pool"].running_slots) == (2, 1)


def test_a_finished_try_gives_back_its_slot_once_and_a_lost_claim_is_not_released_twice() -> None:
    h = Harness(_three_tasks())
    h.book.pool_capacity["p"] = 2
    h.load({})
    assert sorted(h.queue_ready()) == ["a", "b", "c"]
    assert h.book.occupancy.per_dag["slots"] == 3
    assert h.event("a", "running", at=NOW.timestamp()) is None
    assert h.event("a", "success", at=NOW.timestamp() + 2) is None
    assert h.book.occupancy.per_dag["slots"] == 2
    assert h.book.occupancy.pool_slots_used["p"] == 0
    lost = h.event("b", None)
    assert lost is h.book.runs[1]
    assert h.book.occupancy.per_dag["slots"] == 1
    # The scheduler re-reads the run: the row says b is queued again by someone else.
    h.load({"a": ("success", 1), "b": ("queued", 2), "c": ("queued", 1)}, pk=1)
    assert h.book.occupancy.per_dag["slots"] == 2, "b counted once after the reload, c still counted"
    assert h.ti_id("b") in h.book.adopted and h.ti_id("c") not in h.book.adopted
    finished = h.events.of(TryFinished)
    assert len(finished) == 1 and isinstance(finished[0], TryFinished)
    assert finished[0].duration == 2.0
    assert len(h.events.of(TryLost)) == 1


def test_forgetting_a_run_drops_it_from_every_index() -> None:
    with DAG("forget", schedule=None, start_date=START) as dag:
        Noop(task_id="ready")
        Noop(task_id="retry", retries=1)
        Noop(task_id="past", depends_on_past=True)
        Noop(task_id="adopted")
    h = Harness(dag, previous={"past": "failed"})
    run = h.load(
        {
            "ready": ("scheduled", 0),
            "retry": ("up_for_retry", 1),
            "past": ("scheduled", 0),
            "adopted": ("running", 1),
        }
    )
    assert h.book.adopted == {h.ti_id("adopted")}
    assert h.book.past_waiting and h.book.retry_waiting and len(h.book.ready) == 1
    h.book.forget(run)
    assert not h.book.runs and not h.book.ti_run
    assert not h.book.retry_waiting and not h.book.past_waiting and not h.book.adopted
    assert h.queue_ready() == []


def test_a_retry_is_released_when_its_delay_has_passed_on_the_clock() -> None:
    with DAG("retry", schedule=None, start_date=START) as dag:
        Noop(task_id="flaky", retries=2)
    h = Harness(dag)
    h.load({})
    h.queue_ready()
    due = NOW.timestamp() + 30
    h.event("flaky", "up_for_retry", at=NOW.timestamp(), next_retry_at=due)
    assert h.book.soonest_retry() == due
    h.clock.advance(29.9)
    h.book.release_retries(h.clock.now().timestamp(), h.work)
    assert h.queue_ready() == [], "released before next_retry_at"
    h.clock.advance(0.1)
    h.book.release_retries(h.clock.now().timestamp(), h.work)
    assert h.work.states == {h.ti_id("flaky"): S.SCHEDULED}
    assert h.queue_ready() == ["flaky"]
    assert h.book.soonest_retry() is None
    queued = h.events.of(TryQueued)
    assert [(e.try_number, e.first_of_run) for e in queued] == [(1, True), (2, False)]  # type: ignore[attr-defined]


def test_an_adopted_try_that_ended_elsewhere_releases_its_slot_and_moves_the_run_on() -> None:
    with DAG("adopt", schedule=None, start_date=START) as dag:
        Noop(task_id="first") >> Noop(task_id="second")
    h = Harness(dag)
    h.load({"first": ("running", 1)})
    first = h.ti_id("first")
    h.book.sync_adopted({first: ("running", 1, None)}, h.work)
    assert h.book.adopted == {first} and h.book.occupancy.per_dag["adopt"] == 1
    h.book.sync_adopted({first: ("success", 1, None)}, h.work)
    assert h.book.adopted == set() and h.book.occupancy.per_dag["adopt"] == 0
    assert h.queue_ready() == ["second"]
    h.event("second", "success")
    assert h.work.finished_runs == [(h.book.runs[1], DagRunState.SUCCESS)]


def test_a_zombie_of_a_loaded_run_waits_for_its_retry_and_one_of_an_unknown_run_keeps_its_key() -> None:
    with DAG("zombie", schedule=None, start_date=START) as dag:
        Noop(task_id="z", retries=2, retry_delay=timedelta(seconds=10), retry_exponential_backoff=True)
    h = Harness(dag)
    h.load({"z": ("running", 2)})
    ti = h.book.runs[1].tis["z"]
    h.book.give_up(db.Zombie(ti.ti_id, 1, "z", 2, 2), ti.key, NOW, "gone", h.work)
    retry_at = NOW.add(seconds=20)  # the second try's delay doubles
    assert h.work.gave_up == [GaveUp(ti.ti_id, 2, "up_for_retry", retry_at)]
    assert ti.state is S.UP_FOR_RETRY and ti.next_retry_at == retry_at.timestamp()
    assert h.book.occupancy.per_dag["zombie"] == 0 and h.book.retry_waiting
    elsewhere = TaskInstanceKey(999, 42, "other_dag", "manual__x", "t")
    h.book.give_up(db.Zombie(999, 42, "t", 1, 0), elsewhere, NOW, "gone", h.work)
    zombies = h.events.of(TryZombie)
    assert [(e.key, e.state, e.next_retry_at, e.pool) for e in zombies] == [  # type: ignore[attr-defined]
        (ti.key, S.UP_FOR_RETRY, retry_at, "default_pool"),
        (elsewhere, S.FAILED, None, None),
    ]


def test_a_timed_out_run_fails_skips_what_waits_and_gives_back_our_slots() -> None:
    with DAG("slow", schedule=None, start_date=START, dagrun_timeout=timedelta(seconds=60)) as dag:
        Noop(task_id="running")
        Noop(task_id="waiting", pool="never")
    h = Harness(dag)
    h.load({})
    assert h.queue_ready() == ["running"]
    h.event("running", "running", at=NOW.timestamp())
    h.book.time_out_runs(NOW.add(seconds=59), h.work)
    assert not h.work.finished_runs
    h.book.time_out_runs(NOW.add(seconds=60), h.work)
    assert h.work.finished_runs == [(h.book.runs[1], DagRunState.FAILED)]
    assert h.work.states == {h.ti_id("waiting"): S.SKIPPED}
    assert h.book.occupancy.per_dag["slow"] == 0
    assert h.queue_ready() == []


@pytest.mark.parametrize(("previous", "ready"), [("success", True), ("failed", False), (None, True)])
def test_depends_on_past_asks_for_the_previous_run_only_when_it_is_not_loaded(
    previous: str | None, ready: bool
) -> None:
    with DAG("past", schedule=None, start_date=START) as dag:
        Noop(task_id="t", depends_on_past=True)
    h = Harness(dag, previous={"t": previous} if previous else {})
    h.load({})
    assert h.queue_ready() == (["t"] if ready else [])
    assert len(h.events.of(TryScheduled)) == 1


def test_the_next_run_waits_for_a_loaded_previous_run_and_is_rechecked_when_it_ends() -> None:
    with DAG("past", schedule=None, start_date=START, max_active_runs=2) as dag:
        Noop(task_id="t", depends_on_past=True)
    h = Harness(dag)
    h.load({"t": ("running", 1)}, pk=1, logical=NOW.subtract(days=1))
    h.load({}, pk=2)
    assert h.queue_ready() == [] and h.book.past_waiting
    h.book.sync_adopted({h.ti_id("t", pk=1): ("success", 1, None)}, h.work)
    h.book.finish_run(h.book.runs[1], DagRunState.SUCCESS, NOW)
    h.book.recheck_past()
    assert h.queue_ready() == ["t"]
    assert [e.dag_run_id for e in h.events.of(RunFinished)] == [1]  # type: ignore[attr-defined]


def test_a_rescheduled_sensor_frees_its_slot_keeps_its_try_number_and_waits_behind_others() -> None:
    with DAG("sense", schedule=None, start_date=START) as dag:
        Noop(task_id="sensor") >> Noop(task_id="after")
        Noop(task_id="other")
    h = Harness(dag)
    h.load({})
    assert sorted(h.queue_ready()) == ["other", "sensor"]
    run = h.book.runs[1]
    sensor = run.tis["sensor"]
    assert sensor.try_number == 1 and h.book.occupancy.per_dag["sense"] == 2
    at = NOW.add(seconds=30).timestamp()
    h.event("sensor", "up_for_reschedule", next_retry_at=at, sensor_pokes=1)
    assert sensor.state is S.UP_FOR_RESCHEDULE and sensor.try_number == 0  # given back
    assert h.book.occupancy.per_dag["sense"] == 1 and h.book.soonest_retry() == at
    assert run.tis["after"].state is S.NONE and not h.work.finished_runs
    [event] = h.events.of(TryRescheduled)
    assert (event.try_number, event.sensor_pokes) == (1, 1)  # type: ignore[attr-defined]
    assert not h.events.of(TryFinished)
    h.book.release_retries(at - 1, h.work)
    assert sensor.state is S.UP_FOR_RESCHEDULE
    h.book.release_retries(at, h.work)
    assert h.work.states[sensor.ti_id] is S.SCHEDULED and h.queue_ready() == ["sensor"]
    assert sensor.try_number == 1  # the same try again
    h.event("sensor", "success")
    assert h.queue_ready() == ["after"]


def test_an_adopted_try_that_ended_up_for_reschedule_waits_for_its_date() -> None:
    with DAG("adopt_sense", schedule=None, start_date=START) as dag:
        Noop(task_id="sensor")
    h = Harness(dag)
    h.load({"sensor": ("running", 1)})
    ti_id = h.ti_id("sensor")
    at = NOW.add(seconds=60).timestamp()
    h.book.sync_adopted({ti_id: ("up_for_reschedule", 0, at)}, h.work)
    assert h.book.occupancy.per_dag["adopt_sense"] == 0 and h.book.soonest_retry() == at
    h.book.release_retries(at, h.work)
    assert h.queue_ready() == ["sensor"]


def test_an_adopted_try_our_executor_reports_gives_back_its_slot_once() -> None:
    # A coordinated scheduler found dead rejoins and claims its own run back: a try it had sent is
    # adopted at the reload, and then its own executor reports the end. The poll of adopted tries
    # that follows must not release the slot a second time.
    h = Harness(_three_tasks())
    h.load({"b": ("running", 1), "a": ("success", 1), "c": ("success", 1)})
    b = h.ti_id("b")
    assert h.book.adopted == {b} and h.book.occupancy.per_dag["slots"] == 1
    h.event("b", "success", at=NOW.timestamp())
    assert b not in h.book.adopted
    h.book.sync_adopted({b: ("success", 1, None)}, h.work)
    assert h.book.occupancy.per_dag["slots"] == 0
    assert h.book.occupancy.pool_slots_used["default_pool"] == 0
