"""Several API server processes on one listening socket (``[api] workers``).

The parent binds the socket, then forks each worker: a worker builds its own application (its own
database connections: the parent's pooled ones are dropped, not closed) and runs uvicorn on the
inherited socket, so the kernel spreads connections across the workers and they share the
parent's configuration, the session signing key included (a random key made at start is the
same in every worker). The parent only supervises: a worker that dies is started again (at most
:data:`MAX_RESTARTS` times, then the server stops), and SIGINT or SIGTERM stops every worker.

Per-process state stays per worker: each keeps its own memory of credentials and DAG-list answers
(see :mod:`windvane.api.auth_cache`, :mod:`windvane.api.page_cache`). The login rate limit is
counted in the database and holds across workers (:mod:`windvane.api.ratelimit`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("windvane.api")
#: Worker deaths the parent makes good before it gives up and stops the server.
MAX_RESTARTS = 10


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host:port`` that forked workers inherit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: an answer written in two parts (head, body) is not held back
    # by Nagle's algorithm waiting for the client's delayed ACK (~40 ms per request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def run_workers(count: int, sock: socket.socket, work: Callable[[socket.socket], None]) -> int:
    """Fork ``count`` workers each running ``work(sock)`` until it returns; supervise them until
    SIGINT or SIGTERM (forwarded to them). The exit code: 0, or 1 when workers kept dying."""
    children: set[int] = set()
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            _signal(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    restarts = 0
    try:
        for _ in range(count):
            children.add(_fork(sock, work))
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries os.wait itself
                continue
            children.discard(pid)
            if stopping:
                continue
            restarts += 1
            log.error("API worker %d ended (status %d); starting another", pid, status)
            if restarts > MAX_RESTARTS:
                log.error("API workers died %d times: stopping the server", restarts)
                stop(signal.SIGTERM, None)
                return 1
            children.add(_fork(sock, work))
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _fork(sock: socket.socket, work: Callable[[socket.socket], None]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:  # the child: default signal handling (uvicorn installs its own), then serve
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        work(sock)
    except BaseException:
        log.exception("API worker %d failed", os.getpid())
        code = 1
    finally:
        os._exit(code)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended already
        os.kill(pid, sig)
