"""``windvane scheduler`` runs the services plug-ins declare beside its loop and stops them on SIGTERM."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.helpers import write_distribution, write_package
from windvane.plugins import SERVICES_GROUP

from .conftest import RunCli

DEADLINE_SECONDS = 30.0

PLUGIN = """\
    import threading

    journal = []
    all_started = threading.Event()


    class Recorder:
        def __init__(self, name, context):
            self.name = name
            self.executor = context.settings.core.executor
            self.dialect = context.engine.dialect.name

        def start(self):
            journal.append(f"start {self.name} ({self.executor}, {self.dialect})")
            if self.name == "second":
                all_started.set()

        def stop(self):
            journal.append(f"stop {self.name}")


    def first(context):
        return Recorder("first", context)


    def second(context):
        return Recorder("second", context)


    def broken(context):
        raise RuntimeError("the broken service has no luck")
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A distribution on ``sys.path`` declaring three services (one broken); yields its module name."""
    root = tmp_path / "site"
    module = f"wv_services_{os.getpid()}_{threading.get_ident()}"
    write_package(root, {f"{module}.py": PLUGIN})
    entries = {"a_first": f"{module}:first", "b_second": f"{module}:second", "c_broken": f"{module}:broken"}
    write_distribution(root, module, {SERVICES_GROUP: entries})
    monkeypatch.syspath_prepend(str(root))
    yield module
    sys.modules.pop(module, None)


def test_the_scheduler_runs_declared_services_and_stops_them_on_sigterm(
    ready: RunCli, installed_plugin: str
) -> None:
    plugin = importlib.import_module(installed_plugin)

    def terminate_once_started() -> None:
        if plugin.all_started.wait(DEADLINE_SECONDS):
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=terminate_once_started, daemon=True)
    sender.start()
    # --num-runs only bounds the test should SIGTERM never come; the scheduler stops on the signal
    result = ready("scheduler", "--no-processor", "--num-runs", "2000")
    sender.join(DEADLINE_SECONDS)
    assert result.code == 0, result.err
    assert plugin.journal == [
        "start first (local, sqlite)",
        "start second (local, sqlite)",
        "stop second",
        "stop first",
    ]
    assert "entry point 'c_broken" in result.err and "the broken service has no luck" in result.err
