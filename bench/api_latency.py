"""API list-endpoint latency: 1,000 DAGs, 10,000 runs and 100,000 task instances seeded directly,
1, 10 and 50 concurrent clients in a closed loop (no think time) against a real uvicorn on
loopback, on SQLite and PostgreSQL; prints p50/p95/p99, requests per second and the server's CPU
per request for each endpoint and client count, with the load average around each database's run.

The server runs in processes of its own (``--workers``, as ``windvane api-server`` with
``[api] workers``), so the load generator does not share their interpreter lock. The load
generator is ``wrk`` (Debian's package: a C program, it takes little CPU) when installed, else
httpx clients in one asyncio loop (which take more of a shared machine's CPU: say so when quoting).

Old and new side by side in one run: ``--against SRC`` also serves the API from another source
tree (e.g. an export of ``main``'s ``src``; with ``--against-plain`` as trees older than httptools
and uvloop ran: uvicorn's pure-Python h11 parser and asyncio loop), and ``--cache-off`` also
serves this tree with ``[api] list_cache_seconds = 0`` (every answer read from the database);
each cell is measured on every server in turn, so they share the machine's load.

Target: p95 < 50 ms at 50 clients. Usage:
``python bench/api_latency.py [--db sqlite,postgres] [--clients 1,10,50] [--seconds 5] [--workers 2]
[--against /path/to/old/src] [--cache-off]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pendulum
from _common import fresh_db, table
from sqlalchemy import Engine, insert

from windvane.api.config import ApiConfig
from windvane.api.server import serve
from windvane.api.users import Role, create_token, create_user
from windvane.core.store.engine import begin_write, create_db_engine
from windvane.core.store.tables import dag, dag_run, task_instance

DAGS, RUNS_PER_DAG, TASKS_PER_RUN = 1_000, 10, 10  # 100,000 task instances
ONE_DAG = f"dag_{DAGS // 2:04}"
ENDPOINTS = {
    "GET /dags?limit=100": "/dags?limit=100",
    "GET /dags?tags=team-3": "/dags?tags=team-3&limit=100",
    "GET /dags?dag_id_pattern=12": "/dags?dag_id_pattern=12",
    "GET /dagRuns?limit=100": "/dagRuns?limit=100",
    "GET /dags/{id}/dagRuns": f"/dags/{ONE_DAG}/dagRuns",
    "GET .../taskInstances": f"/dags/{ONE_DAG}/dagRuns/scheduled__1/taskInstances",
    "GET /pools": "/pools",
    "GET /ui/recentRuns (50 DAGs)": "/ui/recentRuns?" + "&".join(f"dag_ids=dag_{d:04}" for d in range(50)),
}
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def seed(engine: Engine) -> str:
    """The rows, and a viewer's API token."""
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
        return create_token(conn, "bench", "bench", now=now)[1]


@dataclass
class Cell:
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    errors: int
    server_cpu: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its children, living and reaped."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def with_wrk(
    url: str, token: str, clients: int, seconds: float, script: Path
) -> tuple[int, float, list[float], int]:
    out = subprocess.run(
        ["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
         "-H", f"Authorization: Bearer {token}", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    requests, duration_us, p50, p95, p99, errors = (int(v) for v in line.split()[1:])
    return requests, duration_us / 1e6, [p50 / 1000, p95 / 1000, p99 / 1000], errors


def with_httpx(url: str, token: str, clients: int, seconds: float) -> tuple[int, float, list[float], int]:
    timings: list[float] = []
    errors = 0

    async def run() -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=clients)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
            end = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < end:
                    started = time.perf_counter()
                    response = await client.get(url)
                    timings.append((time.perf_counter() - started) * 1000)
                    errors += response.status_code != 200

            await asyncio.gather(*(worker() for _ in range(clients)))

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(timings, n=100) if len(timings) > 1 else [timings[0]] * 99
    return len(timings), elapsed, [q[49], q[94], q[98]], errors


def measure(
    base: str, token: str, path: str, clients: int, seconds: float, server: int, script: Path | None
) -> Cell:
    url = base + path
    with_wrk(url, token, clients, 1.0, script) if script else with_httpx(url, token, clients, 1.0)  # warm up
    before = tree_cpu(server)
    if script is not None:
        requests, elapsed, (p50, p95, p99), errors = with_wrk(url, token, clients, seconds, script)
    else:
        requests, elapsed, (p50, p95, p99), errors = with_httpx(url, token, clients, seconds)
    cpu = tree_cpu(server) - before
    return Cell(requests, elapsed, p50, p95, p99, errors, cpu)


@dataclass(frozen=True)
class Variant:
    """One server of the comparison: ``src`` (None: this tree) with ``list_cache`` seconds (None:
    the default)."""

    label: str
    src: str | None = None
    list_cache: float | None = None
    plain: bool = False


def start_server(url: str, port: int, workers: int, variant: Variant) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--serve", url, "--port", str(port), "--workers", str(workers)]
    env = dict(os.environ)
    if variant.src is not None:
        env["PYTHONPATH"] = variant.src
    if variant.plain:
        args.append("--plain")
    if variant.list_cache is not None:
        args += ["--list-cache", str(variant.list_cache)]
    server = subprocess.Popen(args, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)  # polling a port until it answers, with a deadline
    server.kill()
    raise RuntimeError("the API server did not answer within 60 s")


def run_db(kind: str, args: argparse.Namespace, script: Path | None) -> list[list[object]]:
    rows: list[list[object]] = []
    variants = [Variant("new")]
    if args.cache_off:
        variants.append(Variant("new, cache off", list_cache=0.0))
    if args.against:
        variants.append(Variant("old", src=args.against, plain=args.against_plain))
    with fresh_db(kind) as (url, engine):
        token = seed(engine)
        engine.dispose()
        servers: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
        try:
            for variant in variants:
                port = free_port()
                servers[variant.label] = (port, start_server(url, port, args.workers, variant))
            load = os.getloadavg()[0]
            for name, path in ENDPOINTS.items():
                for clients in args.clients:
                    for label, (port, server) in servers.items():
                        base = f"http://127.0.0.1:{port}/api/v1"
                        c = measure(base, token, path, clients, args.seconds, server.pid, script)
                        rate = c.requests / c.seconds
                        cpu = c.server_cpu * 1000 / max(1, c.requests)
                        cells = [c.p50, c.p95, c.p99, rate, cpu, c.errors, round(load, 1)]
                        rows.append([kind, name, clients, label, *cells])
                        print(f"  {kind} {name} x{clients} {label}: p95 {c.p95:.1f} ms, {rate:.0f} req/s, "
                              f"{cpu:.2f} ms CPU", flush=True)  # fmt: skip
                        load = os.getloadavg()[0]
        finally:
            for _port, server in servers.values():
                server.terminate()
                server.wait(30)
    return rows


def serve_main(url: str, port: int, workers: int, plain: bool, list_cache: float | None) -> None:
    if plain:  # as the old tree ran: uvicorn's "auto" then picks h11 and asyncio
        sys.modules["httptools"] = None  # type: ignore[assignment]
        sys.modules["uvloop"] = None  # type: ignore[assignment]
    # A few connections per process: PostgreSQL is shared (max_connections 100 here) and two or three
    # servers of two workers may run side by side; requests beyond them queue for one.
    engine = create_db_engine(url, pool_size=4)
    extra = {} if list_cache is None else {"list_cache_seconds": list_cache}
    serve(engine, ApiConfig(secret_key="bench", **extra), host="127.0.0.1", port=port, workers=workers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgres", help="Databases, comma-separated.")
    parser.add_argument("--clients", default="1,10,50", help="Concurrent clients, comma-separated.")
    parser.add_argument("--seconds", type=float, default=5.0, help="Seconds per endpoint and client count.")
    parser.add_argument("--workers", type=int, default=2, help="API server processes ([api] workers).")
    parser.add_argument("--tool", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--against", metavar="SRC", help="Also serve from this source tree (old code).")
    parser.add_argument(
        "--against-plain",
        action="store_true",
        help="Serve --against on h11 and asyncio (trees before httptools).",
    )
    parser.add_argument("--cache-off", action="store_true", help="Also serve with list_cache_seconds = 0.")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--list-cache", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # a server process
        serve_main(args.serve, args.port, args.workers, args.plain, args.list_cache)
        return 0
    args.clients = [int(c) for c in args.clients.split(",")]
    use_wrk = args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk") is not None)
    print(f"{DAGS} DAGs, {DAGS * RUNS_PER_DAG} runs, {DAGS * RUNS_PER_DAG * TASKS_PER_RUN} task instances; "
          f"{args.workers} server worker(s); load generator {'wrk' if use_wrk else 'httpx'}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at start", flush=True)  # fmt: skip
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "report.lua"
        script.write_text(WRK_SCRIPT)
        for kind in args.db.split(","):
            rows += run_db(kind, args, script if use_wrk else None)
    header = [
        "db",
        "endpoint",
        "clients",
        "server",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "req/s",
        "server cpu ms/req",
    ]
    header += ["errors", "load"]
    print(table("API latency", header, rows))
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
