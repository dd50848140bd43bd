"""API list-endpoint latency: 1,000 DAGs and 100,000 task instances seeded directly, 50 concurrent
clients (httpx async) against a real uvicorn on loopback; prints p50/p95 per endpoint.

The server runs in a process of its own (as ``windvane api-server`` would), so the load generator
does not share its interpreter lock.

Target: p95 < 50 ms. Usage: ``python bench/api_latency.py [--db-url URL] [--requests N]``
(default: a SQLite file in a temporary folder, 2,000 requests per endpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pendulum
import uvicorn
from sqlalchemy import Engine, insert

from windvane.api.app import create_app
from windvane.api.config import ApiConfig
from windvane.api.users import Role, create_token, create_user
from windvane.core.store.engine import begin_write, create_db_engine
from windvane.core.store.migrate import migrate
from windvane.core.store.tables import dag, dag_run, task_instance

DAGS, RUNS_PER_DAG, TASKS_PER_RUN = 1_000, 10, 10  # 100,000 task instances
CLIENTS = 50
PORT = 18_931


def seed(engine: Engine) -> tuple[str, str]:
    now = pendulum.now("UTC")
    with begin_write(engine) as conn:
        conn.execute(insert(dag), [
            {"dag_id": f"dag_{d:04}", "fileloc": f"/dags/dag_{d:04}.py", "dag_hash": "h", "serialized": "{}",
             "tags": [f"team-{d % 10}"], "is_paused": d % 7 == 0, "last_parsed_at": now}
            for d in range(DAGS)
        ])  # fmt: skip
        runs = [
            {"dag_id": f"dag_{d:04}", "run_id": f"scheduled__{r}", "run_type": "scheduled",
             "logical_date": now.subtract(days=r), "state": "success" if r else "running"}
            for d in range(DAGS) for r in range(RUNS_PER_DAG)
        ]  # fmt: skip
        conn.execute(insert(dag_run), runs)
        tis = [
            {"dag_run_id": pk, "dag_id": run["dag_id"], "run_id": run["run_id"], "task_id": f"task_{t}",
             "state": "success"}
            for pk, run in enumerate(runs, start=1) for t in range(TASKS_PER_RUN)
        ]  # fmt: skip
        for start in range(0, len(tis), 10_000):
            conn.execute(insert(task_instance), tis[start : start + 10_000])
        create_user(conn, "bench", "bench password", Role.VIEWER, now=now)
        return create_token(conn, "bench", "bench", now=now)[1], f"dag_{DAGS // 2:04}"


ENDPOINTS = {
    "GET /dags?limit=100": "/dags?limit=100",
    "GET /dags?tags=team-3": "/dags?tags=team-3&limit=100",
    "GET /dags?dag_id_pattern=12": "/dags?dag_id_pattern=12",
    "GET /dagRuns?limit=100": "/dagRuns?limit=100",
    "GET /dags/{id}/dagRuns": "/dags/{dag}/dagRuns",
    "GET .../taskInstances": "/dags/{dag}/dagRuns/scheduled__1/taskInstances",
    "GET /pools": "/pools",
}


async def measure(base: str, token: str, path: str, requests: int, clients: int = CLIENTS) -> list[float]:
    timings: list[float] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits
    ) as c:
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                response = await c.get(path)
                timings.append(time.perf_counter() - started)
                response.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(clients)))
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="Metadata database (default: SQLite in a temporary folder).")
    parser.add_argument("--requests", type=int, default=2000, help="Requests per endpoint.")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # the server process
        engine = create_db_engine(args.db_url, pool_size=60)
        uvicorn.run(create_app(engine, ApiConfig(secret_key="bench")), host="127.0.0.1", port=PORT,
                    log_level="warning", access_log=False, timeout_keep_alive=120)  # fmt: skip
        return 0
    with tempfile.TemporaryDirectory() as folder:
        url = args.db_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = create_db_engine(url, pool_size=60)
        migrate(engine)
        token, one_dag = seed(engine)
        engine.dispose()
        server = subprocess.Popen([sys.executable, __file__, "--serve", "--db-url", url])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{PORT}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)  # polling a port until it answers, with a deadline
        try:
            base = f"http://127.0.0.1:{PORT}/api/v1"
            print(f"{DAGS} DAGs, {DAGS * RUNS_PER_DAG * TASKS_PER_RUN} task instances, {CLIENTS} clients, "
                  f"{args.requests} requests per endpoint, {engine.dialect.name}")  # fmt: skip
            print(f"{'endpoint':32} {'1 client p50':>12} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8}")
            for name, path in ENDPOINTS.items():
                alone = asyncio.run(measure(base, token, path.format(dag=one_dag), 100, clients=1))
                started = time.perf_counter()
                timings = asyncio.run(measure(base, token, path.format(dag=one_dag), args.requests))
                elapsed = time.perf_counter() - started
                q = statistics.quantiles(timings, n=100)
                single, rate = statistics.median(alone) * 1000, len(timings) / elapsed
                print(f"{name:32} {single:12.1f} {q[49] * 1000:8.1f} {q[94] * 1000:8.1f} {rate:8.0f}")
        finally:
            server.terminate()
            server.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
