"""The API on a real uvicorn on loopback (as ``windvane standalone`` runs it, on a thread), and the
DAG processor's heartbeat that ``/health`` reports."""

from __future__ import annotations

import socket

import httpx
from sqlalchemy import Engine

from windvane.api.config import ApiConfig
from windvane.api.server import ApiThread
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
