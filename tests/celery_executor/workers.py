"""Brokers and ``windvane celery worker`` processes for the Celery executor's tests.

A :class:`Broker` is a Redis database number or the RabbitMQ vhost ``/`` with a
queue name of its own per test (``wvtest-<random>``), so tests never see each
other's messages; :meth:`Broker.cleanup` deletes the queue. A
:class:`WorkerProcess` is a real ``windvane celery worker`` started with the
``python -m windvane.cli.main`` command line in a session of its own (so a test
can ``kill -9`` its whole process group, pool and tries included).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kombu import Connection

from windvane.celery.config import CeleryConfig
from windvane.testing.waiting import wait_for

REDIS_URL = os.environ.get("WINDVANE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
AMQP_URL = os.environ.get("WINDVANE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
#: Redis databases of these tests (the machine's Redis is shared: keep off 0 and 1).
BROKER_DB, RESULTS_DB = 11, 12
READY_LINE = "windvane celery worker ready"


def service_unavailable(message: str) -> None:
    """Skip the test, or fail it when ``CI=true`` (a missing service is a failure in CI)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (a missing service is a failure in CI)")
    pytest.skip(message)


def require(url: str) -> None:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2).close()
    except OSError as exc:
        service_unavailable(f"no broker at {parts.hostname}:{parts.port}: {exc}")


@dataclass
class Broker:
    """One test's broker and result backend."""

    kind: str
    broker_url: str
    result_backend: str
    queue: str

    def config(self, **changes: object) -> CeleryConfig:
        values: dict[str, object] = {
            "broker_url": self.broker_url,
            "result_backend": self.result_backend,
            "default_queue": self.queue,
            "visibility_timeout": 5.0,
        }
        values.update(changes)
        return CeleryConfig.from_section(values)

    def cleanup(self, *queues: str) -> None:
        with contextlib.suppress(Exception), Connection(self.broker_url, connect_timeout=2) as conn:
            channel = conn.default_channel
            for queue in (self.queue, *queues):
                with contextlib.suppress(Exception):
                    channel.queue_delete(queue)
                if self.kind == "rabbitmq":  # Celery declared an exchange of the queue's name too
                    with contextlib.suppress(Exception):
                        channel.exchange_delete(queue)


def make_broker(kind: str, *, redis_url: str = REDIS_URL) -> Broker:
    queue = f"wvtest-{uuid.uuid4().hex[:10]}"
    results = f"{redis_url}/{RESULTS_DB}"
    if kind == "redis":
        require(redis_url)
        return Broker(kind, f"{redis_url}/{BROKER_DB}", results, queue)
    require(AMQP_URL)
    require(redis_url)
    return Broker(kind, AMQP_URL, results, queue)


class WorkerProcess:
    """A ``windvane celery worker`` in its own session; stderr goes to ``log``."""

    def __init__(
        self,
        broker: Broker,
        *,
        db_url: str,
        home: Path,
        queues: tuple[str, ...] = (),
        concurrency: int = 2,
        env: dict[str, str] | None = None,
        wrapper: tuple[str, ...] = (),
    ) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.log = home / f"worker-{uuid.uuid4().hex[:6]}.log"
        variables = {
            **os.environ,
            "WINDVANE_HOME": str(home),
            "WINDVANE__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "WINDVANE__CELERY__BROKER_URL": broker.broker_url,
            "WINDVANE__CELERY__RESULT_BACKEND": broker.result_backend,
            "WINDVANE__CELERY__DEFAULT_QUEUE": broker.queue,
            "WINDVANE__CELERY__VISIBILITY_TIMEOUT": "5",
            "WINDVANE__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            **(env or {}),
        }
        command = [
            *wrapper,  # e.g. ip netns exec NAME: the worker on a "host" of its own
            sys.executable,
            "-m",
            "windvane.cli.main",
            "celery",
            "worker",
            "--concurrency",
            str(concurrency),
        ]
        if queues:
            command += ["--queues", ",".join(queues)]
        with open(self.log, "wb") as out:
            self.popen = subprocess.Popen(
                command, env=variables, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> WorkerProcess:
        def ready() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(f"the Celery worker exited with {self.popen.returncode}:\n{self.text()}")
            return READY_LINE in self.text()

        wait_for(ready, timeout=timeout, what="the Celery worker to be ready")
        return self

    def kill_group(self) -> None:
        """``kill -9`` of the worker with its pool processes and their tries (a host lost)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.popen.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(0.2)
        self.kill_group()
