"""The login rate limit holds in total across API processes (``[api] workers``, or API servers on
several hosts): failed logins are counted in the metadata database, not per process."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
from sqlalchemy import Engine, select

from windvane.api.ratelimit import LoginLimiter
from windvane.api.tables import api_login_failure
from windvane.core.store.engine import begin_read
from windvane.testing.waiting import wait_for

LIMIT = 3
SERVE = f"""
import sys
from windvane.api.config import ApiConfig
from windvane.api.server import serve
from windvane.core.store.engine import create_db_engine
engine = create_db_engine(sys.argv[1])
config = ApiConfig(secret_key="k", login_rate_limit={LIMIT}, login_rate_window_seconds=600.0)
sys.exit(serve(engine, config, host="127.0.0.1", port=int(sys.argv[2])))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_two_api_processes_let_through_the_limit_in_total_not_each(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    ports = [_free_port(), _free_port()]
    servers = [subprocess.Popen([sys.executable, "-c", SERVE, url, str(port)]) for port in ports]
    try:
        for port in ports:
            health = f"http://127.0.0.1:{port}/api/v1/health"
            wait_for(lambda health=health: _answers(health), timeout=60, what=f"the API on port {port}")
        guess = {"username": "admin", "password": "a wrong guess"}
        logins = [f"http://127.0.0.1:{port}/api/v1/auth/login" for port in ports]
        codes = [  # alternating between the two processes
            httpx.post(logins[i % 2], json=guess, timeout=30).status_code for i in range(4 * LIMIT)
        ]
        assert codes == [401] * LIMIT + [429] * (3 * LIMIT), codes
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)


def test_the_window_slides_a_success_clears_and_old_failures_are_pruned(engine: Engine) -> None:
    now = [1000.0]
    limiter = LoginLimiter(engine, 2, 10.0, lambda: now[0])
    assert limiter.attempt("u", "a") == 0.0
    now[0] += 1
    assert limiter.attempt("u", "a") == 0.0
    now[0] += 1
    assert limiter.attempt("u", "a") == 8.0  # until the oldest of the 2 leaves the window
    assert limiter.attempt("u", "b") == 0.0  # another address counts on its own
    now[0] = 1010.5  # the first left
    assert limiter.attempt("u", "a") == 0.0
    assert limiter.attempt("u", "a") > 0
    limiter.succeeded("u", "a")
    assert limiter.attempt("u", "a") == 0.0
    now[0] += 60  # every row is out of the window: the next attempt deletes them all
    limiter.attempt("v", "a")
    with begin_read(engine) as conn:
        rows = conn.execute(select(api_login_failure.c.username, api_login_failure.c.address)).all()
    assert [tuple(r) for r in rows] == [("v", "a")]
