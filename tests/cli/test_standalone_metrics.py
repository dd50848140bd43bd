"""End to end: ``windvane standalone`` serves two Prometheus endpoints (scheduler process, DAG
processor process), each with only its own services' metrics; a deleted DAG file's series go."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from windvane.metrics import catalogue as m
from windvane.metrics.metric import PROCESS_SERVICES, exported_by

from .conftest import write_dag

DAG = """\
import pendulum
from windvane import DAG, BashOperator

with DAG("{dag_id}", schedule="@once", start_date=pendulum.datetime(2024, 1, 1)) as dag:
    BashOperator(task_id="only", bash_command="true")
"""
DEADLINE_SECONDS = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Family name (as catalogued) -> its samples' (labels, value); {} while nothing listens."""
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except (urllib.error.URLError, ConnectionError):
        return {}
    out = {}
    for family in text_string_to_metric_families(body):
        name = family.name + "_total" if family.type == "counter" else family.name
        out[name] = [(dict(s.labels), s.value) for s in family.samples]
    return out


@pytest.fixture
def ports() -> tuple[int, int]:
    return _free_port(), _free_port()


@pytest.fixture
def standalone(
    home: Path, dags_folder: Path, tmp_path: Path, ports: tuple[int, int]
) -> Iterator[subprocess.Popen[bytes]]:
    for name in ("chain.py", "failing.py"):
        (dags_folder / name).unlink()
    for dag_id in ("kept", "sleepy"):
        write_dag(dags_folder, f"{dag_id}.py", DAG.format(dag_id=dag_id))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDVANE")}
    env.update(
        WINDVANE__CORE__EXECUTOR="local",
        WINDVANE__SCHEDULER__IDLE_SLEEP_SECONDS="0.1",
        WINDVANE__SCHEDULER__HEARTBEAT_SECONDS="1",
        WINDVANE__DAG_PROCESSOR__REFRESH_INTERVAL_SECONDS="0.2",
        WINDVANE__METRICS__PROMETHEUS_ON="true",
        WINDVANE__METRICS__PROMETHEUS_PORT=str(ports[0]),
        WINDVANE__METRICS__PROMETHEUS_PROCESSOR_PORT=str(ports[1]),
    )
    with (tmp_path / "out").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "windvane.cli.main", "--home", str(home), "standalone"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _until(what: str, check: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():
        assert process.poll() is None, f"standalone exited\n{log.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"no {what} after {DEADLINE_SECONDS} s\n{log.read_text()}"
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)


def _value(families: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(value for _, value in families.get(name, []))


@pytest.mark.slow
def test_each_standalone_endpoint_exports_only_its_own_metrics(
    standalone: subprocess.Popen[bytes], ports: tuple[int, int], dags_folder: Path, tmp_path: Path
) -> None:
    scheduler_port, processor_port = ports
    log = tmp_path / "out"
    _until(
        "runs and parses",
        lambda: (
            _value(_scrape(scheduler_port), m.TI_SUCCESSES.name) >= 2
            and _value(_scrape(processor_port), m.DAGBAG_SIZE.name) == 2
        ),
        standalone,
        log,
    )
    scheduler, processor = _scrape(scheduler_port), _scrape(processor_port)
    owned = {p: {x.name for x in m.CATALOGUE if exported_by(x, s)} for p, s in PROCESS_SERVICES.items()}
    assert set(scheduler) == owned["scheduler"]
    assert set(processor) == owned["dag-processor"]
    assert m.SCHEDULER_LAST_HEARTBEAT.name not in processor and m.EXECUTOR_OPEN_SLOTS.name not in processor
    assert _value(scheduler, m.SCHEDULER_LAST_HEARTBEAT.name) > 0
    services = {
        labels["service"] for labels, _ in scheduler[m.BUILD_INFO.name] + processor[m.BUILD_INFO.name]
    }
    assert services == {"scheduler", "dag-processor"}
    files = {labels["file"] for labels, _ in processor[m.PARSE_LAST_DURATION.name]}
    assert files == {"kept.py", "sleepy.py"}

    (dags_folder / "sleepy.py").unlink()
    _until(
        "forgotten file series",
        lambda: (
            {lb["file"] for lb, _ in _scrape(processor_port).get(m.PARSE_LAST_DURATION.name, [])}
            == {"kept.py"}
        ),
        standalone,
        log,
    )
