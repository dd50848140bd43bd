"""Serving the API with uvicorn: in the foreground (``windvane api-server``) or on a thread
beside the scheduler (``windvane standalone``)."""

from __future__ import annotations

import socket
import threading

import uvicorn
from sqlalchemy import Engine

from windvane.api.app import create_app
from windvane.api.config import ApiConfig
from windvane.api.workers import listen, run_workers
from windvane.core.store.engine import after_fork


def serve(engine: Engine, config: ApiConfig, *, host: str, port: int, workers: int = 1) -> int:
    """Serve until interrupted (SIGINT or SIGTERM): in this process, or in ``workers`` forked
    processes sharing one listening socket (:mod:`windvane.api.workers`). The exit code."""
    if workers <= 1:
        uvicorn.run(create_app(engine, config), host=host, port=port, log_level="warning", access_log=False)
        return 0
    sock = listen(host, port)
    engine.dispose()  # no pooled connection crosses the fork

    def work(inherited: socket.socket) -> None:
        after_fork(engine)
        server_config = uvicorn.Config(create_app(engine, config), log_level="warning", access_log=False)
        uvicorn.Server(server_config).run(sockets=[inherited])

    try:
        return run_workers(workers, sock, work)
    finally:
        sock.close()


class ApiThread:
    """The API on a daemon thread of this process: its handlers run in uvicorn's event loop and
    thread pool and touch only the database, so the scheduler loop on the main thread is not
    held up (they share the GIL: heavy API traffic still costs the scheduler CPU)."""

    name = "api_server"

    def __init__(self, engine: Engine, config: ApiConfig, *, host: str, port: int) -> None:
        server_config = uvicorn.Config(
            create_app(engine, config), host=host, port=port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(server_config)
        self._thread = threading.Thread(target=self._server.run, name="api-server", daemon=True)

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)
