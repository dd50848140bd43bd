"""``windvane alerter``: the alerting services in a process of their own deliver the outbox and stop
cleanly on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from windvane.alerting import outbox
from windvane.core.store.engine import begin_write, create_db_engine

from .fake_slack import FakeSlack
from .fakes import NOW, alert
from .standalone import Home


@pytest.mark.slow
def test_the_alerter_delivers_the_outbox_without_a_scheduler(tmp_path: Path, fake_slack: FakeSlack) -> None:
    home = Home(
        tmp_path / "home",
        {
            "alerting": {"enabled": True, "poll_interval_seconds": 0.1},
            "slack": {"webhook_url": fake_slack.webhook_url},
        },
    )
    cli = [sys.executable, "-m", "windvane.cli.main", "--home", str(home.root)]
    subprocess.run([*cli, "db", "migrate"], check=True, capture_output=True)
    engine = create_db_engine(home.url)
    with begin_write(engine) as conn:
        for n in (1, 2):
            outbox.add(conn, alert(n), "slack", now=NOW)
    engine.dispose()
    process = subprocess.Popen([*cli, "alerter"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while len(fake_slack.requests) < 2 or {r["state"] for r in home.outbox()} != {"sent"}:
            assert process.poll() is None and time.monotonic() < deadline, "the alerter did not deliver"
            time.sleep(0.05)
        process.terminate()
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, out.decode()
    assert "Windvane alerter" in out.decode() and "alerting: on" in out.decode()
    assert len(fake_slack.requests) == 2  # each alert once
