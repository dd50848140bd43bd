"""A worker "host" of a test's own: a network namespace joined to this one by a veth pair, reaching
the database and the broker only through TCP proxies on the host side of the link.

``ip netns add`` + a veth pair with a /30 of 10.231.N.0 (the namespace's address
``.2``, the host side ``.1``); processes run in it with ``ip netns exec``. Every
service the namespace uses is a :class:`TcpProxy` listening on the host side's
address and forwarding to 127.0.0.1, so cutting the link (``ip link set down``
on the host side) cuts the worker off from all of them at once, while its
existing TCP connections survive (retransmitted once the link is back up), as
a host behind a broken switch port. Needs root (CI runs as root); without the
rights the test is skipped, or fails when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import threading
import uuid

from tests.celery_executor.workers import service_unavailable


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


class NetnsHost:
    """A network namespace with a veth link to this one (see the module doc)."""

    def __init__(self) -> None:
        if shutil.which("ip") is None or os.geteuid() != 0:
            service_unavailable("network-namespace tests need root and iproute2 (ip netns)")
        tag = uuid.uuid4().hex[:6]
        self.name = f"wvtest-{tag}"
        self.host_if, self.ns_if = f"wvh{tag}", f"wvn{tag}"
        subnet = random.randrange(0, 64) * 4
        third = random.randrange(1, 255)
        self.host_ip, self.ns_ip = f"10.231.{third}.{subnet + 1}", f"10.231.{third}.{subnet + 2}"
        try:
            _ip("netns", "add", self.name)
        except subprocess.CalledProcessError as exc:
            service_unavailable(f"cannot create a network namespace: {exc.stderr.strip()}")
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _ip("link", "set", self.ns_if, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            self.exec_ip("addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            self.exec_ip("link", "set", self.ns_if, "up")
            self.exec_ip("link", "set", "lo", "up")
        except subprocess.CalledProcessError:
            self.delete()
            raise

    def exec_ip(self, *args: str) -> None:
        _ip("netns", "exec", self.name, "ip", *args)

    @property
    def wrapper(self) -> tuple[str, ...]:
        """The command prefix that runs a process in the namespace."""
        return ("ip", "netns", "exec", self.name)

    def cut(self) -> None:
        """The link goes down: nothing crosses until :meth:`restore`."""
        _ip("link", "set", self.host_if, "down")

    def restore(self) -> None:
        _ip("link", "set", self.host_if, "up")

    def delete(self) -> None:
        _ip("link", "del", self.host_if, check=False)
        _ip("netns", "del", self.name, check=False)


class TcpProxy:
    """Forwards connections accepted on ``listen_host`` (a free port) to ``127.0.0.1:target_port``."""

    def __init__(self, listen_host: str, target_port: int) -> None:
        self.target_port = target_port
        self._server = socket.create_server((listen_host, 0))
        self.port = int(self._server.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopping = False
        threading.Thread(target=self._accept, name=f"proxy-{self.port}", daemon=True).start()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
