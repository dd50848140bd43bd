"""A RabbitMQ node of a test's own, on free ports, that the test may stop and start again.

Never the machine's shared node (``rabbit@localhost`` on 5672): this one has a
node name of its own (``wvtest-<random>@localhost``), its own AMQP and
distribution ports, database and log folders, an empty plug-in list (no
management plug-in) and its own environment file, so nothing of
``/etc/rabbitmq`` reaches it. It registers with the machine's ``epmd`` (the
Erlang port mapper every node on a host shares), which is all it shares.
Queues Celery declares are durable and its messages persistent, so a restart
loses nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.celery_executor.own_redis import free_port
from windvane.testing.waiting import wait_for

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def _amqp_answers(port: int) -> bool:
    """The node speaks AMQP (the listener opens only once the broker has booted)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            return sock.recv(8).startswith(b"\x01\x00\x00")  # connection.start
    except OSError:
        return False


class OwnRabbitMQ:
    def __init__(self, folder: Path) -> None:
        binary = SERVER if os.path.exists(SERVER) else shutil.which("rabbitmq-server")
        if binary is None:
            pytest.fail("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        self.binary = binary
        self.folder = folder
        self.node = f"wvtest-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "env.conf").write_text("")
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        folder = str(self.folder)
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": folder,  # its own Erlang cookie
            "RABBITMQ_CONF_ENV_FILE": f"{folder}/env.conf",
            "RABBITMQ_CONFIG_FILE": f"{folder}/rabbitmq.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{folder}/enabled_plugins",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{folder}/mnesia",
            "RABBITMQ_LOG_BASE": f"{folder}/log",
            "RABBITMQ_PLUGINS_EXPAND_DIR": f"{folder}/plugins-expand",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            # Distribution on loopback only; no busy-waiting schedulers (a shared 2-core machine).
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                "-kernel inet_dist_use_interface {127,0,0,1} +S 2:2 +sbwt none +sbwtdcpu none +sbwtdio none"
            ),
        }

    def start(self, timeout: float = 60.0) -> None:
        with open(self.folder / "server.out", "ab") as out:
            self.proc = subprocess.Popen(
                [self.binary], env=self._env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.folder,
            )  # fmt: skip

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                text = (self.folder / "server.out").read_text(errors="replace")[-3000:]
                raise AssertionError(
                    f"rabbitmq-server {self.node} exited with {self.proc.returncode}:\n{text}"
                )
            return _amqp_answers(self.port)

        wait_for(up, timeout=timeout, what=f"RabbitMQ node {self.node} on port {self.port}")

    def stop(self) -> None:
        """SIGTERM: the node stops cleanly (queues and persistent messages are on disk)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
