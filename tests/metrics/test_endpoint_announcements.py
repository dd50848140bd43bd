"""``windvane standalone`` announces only the Prometheus endpoints that listen, and says which could not."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from windvane.testing.waiting import wait_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_taken_port_is_reported_and_never_announced_as_a_url(tmp_path: Path) -> None:
    taken, free = _free_port(), _free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith("WINDVANE")}
        env.update(
            WINDVANE__METRICS__PROMETHEUS_ON="true",
            WINDVANE__METRICS__PROMETHEUS_PORT=str(taken),
            WINDVANE__METRICS__PROMETHEUS_PROCESSOR_PORT=str(free),
        )
        out = tmp_path / "out"
        with out.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "windvane.cli.main", "--home", str(tmp_path / "home"), "standalone"],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            refused = f"cannot serve Prometheus metrics on 127.0.0.1:{taken}"
            served = f"serving Prometheus metrics on http://127.0.0.1:{free}/metrics"
            wait_for(
                lambda: refused in out.read_text() and served in out.read_text(), timeout=60, what=refused
            )
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    text = out.read_text()
    assert f"127.0.0.1:{taken}/metrics" not in text, text  # no URL for what never listened
    assert re.search(r"metrics: +Prometheus requested on .*each endpoint logs its URL once it listens", text)
