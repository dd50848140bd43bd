"""Observer hooks: one per event type, fanned out safely, and built only for those who listen."""

from __future__ import annotations

import logging

import pendulum
import pytest

from windvane.core.model.clock import FakeClock
from windvane.core.model.events import RunFinished, TryLost, TryZombie
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey
from windvane.core.scheduler.announce import Announcer
from windvane.core.scheduler.model import ActiveRun
from windvane.core.scheduler.observer import LoopStats, SafeObserver, SchedulerObserver

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")
KEY = TaskInstanceKey(1, 2, "d", "r", "t")
HOOKS = [
    "run_created",
    "run_finished",
    "try_scheduled",
    "try_queued",
    "try_started",
    "try_finished",
    "try_lost",
    "try_zombie",
]


class Broken(SchedulerObserver):
    def __init__(self) -> None:
        self.calls = 0

    def _fail(self, *_args: object) -> None:
        self.calls += 1
        raise RuntimeError("observer bug")

    loop_finished = run_created = run_finished = try_scheduled = try_queued = _fail  # type: ignore[assignment]
    try_started = try_finished = try_lost = try_zombie = _fail  # type: ignore[assignment]


class Lost(SchedulerObserver):
    def __init__(self) -> None:
        self.heard: list[TryLost] = []

    def try_lost(self, event: TryLost) -> None:
        self.heard.append(event)


def test_a_failing_observer_is_counted_and_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, lost = Broken(), Lost()
    safe = SafeObserver([broken, lost])
    event = TryLost(KEY, 1, 0, "default_pool", "Noop", NOW, None, None)
    with caplog.at_level(logging.ERROR, "windvane.scheduler"):
        for hook in HOOKS:
            getattr(safe, hook)(event)
        safe.loop_finished(LoopStats())
    assert broken.calls == len(HOOKS) + 1 == safe.failures
    assert lost.heard == [event]
    assert "observer" in caplog.text and "failed in try_lost" in caplog.text


def test_an_observer_listens_to_the_hooks_it_overrides_and_a_fan_out_to_any_of_its_own() -> None:
    assert not any(SchedulerObserver().listens_to(h) for h in HOOKS)
    assert [h for h in HOOKS if Lost().listens_to(h)] == ["try_lost"]
    assert [h for h in HOOKS if SafeObserver([SchedulerObserver(), Lost()]).listens_to(h)] == ["try_lost"]
    assert all(SafeObserver([Broken()]).listens_to(h) for h in HOOKS)


def test_no_event_is_built_for_a_hook_nobody_listens_to() -> None:
    lost = Lost()
    announce = Announcer(lost, FakeClock(NOW))
    nothing: ActiveRun = None  # type: ignore[assignment]  # would fail if the event were built
    announce.run_finished(nothing, DagRunState.SUCCESS, NOW)
    announce.try_scheduled(nothing, None)  # type: ignore[arg-type]
    announce.try_zombie(
        KEY, None, try_number=1, max_tries=0, state=S.FAILED, now=NOW, error="gone", next_retry_at=None
    )
    assert lost.heard == []


class Finished(SchedulerObserver):
    def __init__(self) -> None:
        self.heard: list[object] = []

    def run_finished(self, event: RunFinished) -> None:
        self.heard.append(event)

    def try_zombie(self, event: TryZombie) -> None:
        self.heard.append(event)


def test_a_zombie_of_an_unknown_dag_is_announced_without_pool_or_operator() -> None:
    heard = Finished()
    Announcer(heard, FakeClock(NOW)).try_zombie(
        KEY, None, try_number=2, max_tries=1, state=S.FAILED, now=NOW, error="gone", next_retry_at=None
    )
    assert heard.heard == [TryZombie(KEY, 2, 1, None, None, S.FAILED, NOW, "gone", None)]


class LeanFinish(SchedulerObserver):
    """Takes try_finished lean (and would count a typed call too, which must not come)."""

    lean_hooks = frozenset({"try_finished"})

    def __init__(self) -> None:
        self.lean: list[tuple[object, ...]] = []
        self.typed: list[object] = []

    def try_finished(self, event: object) -> None:
        self.typed.append(event)

    def try_finished_lean(self, *values: object) -> None:
        self.lean.append(values)


class TypedFinish(SchedulerObserver):
    def __init__(self) -> None:
        self.typed: list[object] = []

    def try_finished(self, event: object) -> None:
        self.typed.append(event)


def test_each_observer_gets_a_lean_hook_in_the_one_form_it_takes_through_nested_fan_outs() -> None:
    lean, typed, broken = LeanFinish(), TypedFinish(), Broken()
    inner = SafeObserver([lean, broken])
    outer = SafeObserver([inner, typed])
    assert not lean.listens_to("try_finished") and "try_finished" in outer.lean_hooks
    assert outer.listens_to("try_finished")  # typed: for `typed` and `broken`
    event = object()
    outer.try_finished(event)  # type: ignore[arg-type]
    outer.try_finished_lean(KEY, S.SUCCESS, 2.0, 1.0, (), 0, False)
    assert typed.typed == [event] and lean.typed == []
    assert lean.lean == [(KEY, S.SUCCESS, 2.0, 1.0, (), 0, False)]
    assert broken.calls == 1 and inner.failures == 1  # typed only: it takes nothing lean


def test_a_lean_only_observer_has_no_event_built_for_it() -> None:
    lean = LeanFinish()
    announce = Announcer(SafeObserver([lean]), FakeClock(NOW))
    assert announce._finished_lean and not announce._finished
