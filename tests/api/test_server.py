"""The API on a real uvicorn on loopback (as ``windvane standalone`` runs it, on a thread), and the
DAG processor's heartbeat that ``/health`` reports."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import Engine

from windvane.api.config import ApiConfig
from windvane.api.server import ApiThread
from windvane.api.workers import listen
from windvane.cli.jobs import processor_job
from windvane.testing.waiting import wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_api_thread_serves_health_with_the_processor_heartbeat(sqlite_engine: Engine) -> None:
    beat = processor_job(sqlite_engine, 5.0)
    beat.__enter__()
    port = _free_port()
    server = ApiThread(sqlite_engine, ApiConfig(), host="127.0.0.1", port=port)
    server.start()
    try:
        wait_for(lambda: server.started, timeout=20, what="the API server to start")
        body = httpx.get(f"http://127.0.0.1:{port}/api/v1/health").json()
        assert body["metadatabase"] == "healthy"
        assert body["dag_processor"]["status"] == "healthy"
        assert body["dag_processor"]["heartbeat_age_seconds"] < 30
        assert body["scheduler"]["status"] == "unknown"
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/dags").status_code == 401
    finally:
        server.stop()
        beat.__exit__(None, None, None)
    body_after = ApiThread(sqlite_engine, ApiConfig(), host="127.0.0.1", port=port)
    body_after.stop()  # stopping one never started is harmless


SERVE = """
import sys
from windvane.api.config import ApiConfig
from windvane.api.server import serve
from windvane.core.store.engine import create_db_engine
engine = create_db_engine(sys.argv[1])
sys.exit(serve(engine, ApiConfig(secret_key="k"), host="127.0.0.1", port=int(sys.argv[2]), workers=2))
"""


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_several_workers_share_the_port_and_stop_together(sqlite_engine: Engine, tmp_path: Path) -> None:
    port = _free_port()
    url = sqlite_engine.url.render_as_string(hide_password=False)
    parent = subprocess.Popen([sys.executable, "-c", SERVE, url, str(port)])
    try:
        health = f"http://127.0.0.1:{port}/api/v1/health"
        wait_for(lambda: _answers(health), timeout=30, what="the API workers to answer")
        workers = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        assert len(workers) == 2
        with httpx.Client() as client:  # one connection after another: the kernel spreads them
            assert all(client.get(health).json()["metadatabase"] == "healthy" for _ in range(20))
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


def test_the_shared_socket_sends_small_writes_at_once() -> None:
    """Regression: workers accepted on a socket without TCP_NODELAY, so each answer (head and body
    written apart) waited ~40 ms for the client's delayed ACK."""
    sock = listen("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.get_inheritable()
    finally:
        sock.close()
