"""Services beside the scheduler loop: started in order, stopped in reverse, never breaking it."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from windvane.cli.services import ServiceContext, ServiceRunner, load_services
from windvane.core.interfaces import Service
from windvane.plugins import SERVICES_GROUP
from windvane.settings import load_settings

from .helpers import FakeEntryPoint, FakeLoader

DEADLINE_SECONDS = 30.0


class Recorder:
    """A service that notes its calls in a shared journal; ``fail_on`` names the call that raises."""

    def __init__(self, name: str, journal: list[str], fail_on: str = "") -> None:
        self.name = name
        self.journal = journal
        self.fail_on = fail_on

    def start(self) -> None:
        self.journal.append(f"start {self.name}")
        if self.fail_on == "start":
            raise RuntimeError(f"{self.name} cannot start")

    def stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        if self.fail_on == "stop":
            raise RuntimeError(f"{self.name} cannot stop")


class Stuck(Recorder):
    """A service whose ``stop`` never returns until released."""

    def __init__(self, name: str, journal: list[str]) -> None:
        super().__init__(name, journal)
        self.release = threading.Event()

    def stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        self.release.wait(DEADLINE_SECONDS)


def test_recorder_is_a_service() -> None:
    assert isinstance(Recorder("x", []), Service)
    assert not isinstance(object(), Service)


def test_services_start_in_order_and_stop_in_reverse() -> None:
    journal: list[str] = []
    with ServiceRunner([Recorder("a", journal), Recorder("b", journal), Recorder("c", journal)]) as runner:
        journal.append("scheduler loop")
    assert journal == ["start a", "start b", "start c", "scheduler loop", "stop c", "stop b", "stop a"]
    assert runner.failures == 0
    runner.stop()  # stopping twice does nothing
    assert journal[-1] == "stop a" and len(journal) == 7


def test_a_failing_start_is_logged_and_counted_and_the_rest_runs(caplog: pytest.LogCaptureFixture) -> None:
    journal: list[str] = []
    runner = ServiceRunner([Recorder("a", journal), Recorder("b", journal, "start"), Recorder("c", journal)])
    with caplog.at_level(logging.ERROR, "windvane.services"), runner:
        journal.append("scheduler loop")
    assert journal == ["start a", "start b", "start c", "scheduler loop", "stop c", "stop b", "stop a"]
    assert runner.failures == 1
    assert "service 'b' failed to start; the scheduler goes on without it" in caplog.text
    assert "RuntimeError: b cannot start" in caplog.text


def test_failing_and_overrunning_stops_are_counted_and_the_others_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: list[str] = []
    stuck = Stuck("stuck", journal)
    runner = ServiceRunner([Recorder("a", journal), stuck, Recorder("b", journal, "stop")], stop_timeout=0.2)
    try:
        with caplog.at_level(logging.ERROR, "windvane.services"), pytest.raises(KeyError), runner:
            raise KeyError("the scheduler loop failed")
    finally:
        stuck.release.set()
    assert journal == ["start a", "start stuck", "start b", "stop b", "stop stuck", "stop a"]
    assert runner.failures == 2
    assert "service 'b' failed to stop" in caplog.text
    assert "service 'stuck' did not stop within 0.2 s; abandoning it" in caplog.text


def test_factories_get_the_context_and_broken_ones_are_skipped(
    tmp_path: Path, sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    context = ServiceContext(settings=load_settings(home=tmp_path, environ={}), engine=sqlite_engine)
    seen: list[ServiceContext] = []
    journal: list[str] = []

    def good(ctx: ServiceContext) -> Service:
        seen.append(ctx)
        return Recorder("good", journal)

    def raising(ctx: ServiceContext) -> Service:
        raise ValueError("no config for me")

    loader = FakeLoader(
        {
            SERVICES_GROUP: [
                FakeEntryPoint("b_good", "plugin:good", good),
                FakeEntryPoint("a_missing", "gone:make", error=ImportError("No module named 'gone'")),
                FakeEntryPoint("c_raising", "plugin:raising", raising),
                FakeEntryPoint("d_odd", "plugin:odd", lambda ctx: "not a service"),
            ]
        }
    )
    with caplog.at_level(logging.ERROR, "windvane.services"):
        services, failures = load_services(context, loader)
    assert [s.name for s in services] == ["good"] and seen == [context]
    assert failures == 3
    for text in (
        "entry point 'a_missing = gone:make' (group 'windvane.services') failed to load",
        "entry point 'c_raising = plugin:raising' (group 'windvane.services'): no service built",
        "ValueError: no config for me",
        "'d_odd = plugin:odd'",
    ):
        assert text in caplog.text
