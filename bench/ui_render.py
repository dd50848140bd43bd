"""UI page render times with 1,000 DAGs: Debian's chromium (Playwright, by its path) loads each
page from scratch (HTML, script, API calls) until its content is drawn; prints median and p95.

The database is seeded directly: 1,000 DAGs of 10 tasks (one task group), 10 runs each (100,000
task instances), an import error, a few pools. The server (the API and UI app on uvicorn) runs in
a process of its own, as ``windvane api-server`` would.

Usage: ``python bench/ui_render.py [--db-url URL] [--loads N]`` (default: SQLite in a temporary
folder, 10 loads per page). Needs /usr/bin/chromium and the ``playwright`` package.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import httpx
import pendulum
import uvicorn
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine, insert

from windvane import DAG, BashOperator, TaskGroup
from windvane.api.app import create_app
from windvane.api.config import ApiConfig
from windvane.api.users import Role, create_user
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.store.engine import begin_write, create_db_engine
from windvane.core.store.migrate import migrate
from windvane.core.store.tables import dag, dag_run, import_error, slot_pool, task_instance

DAGS, RUNS_PER_DAG = 1_000, 10
PORT = 18_933
PASSWORD = "bench password"


def template() -> tuple[str, list[str]]:
    """One DAG's serialized JSON (dag id ``dag_tpl``) and its task ids."""
    with DAG(
        "dag_tpl", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), params={"n": 1}
    ) as d:
        first = BashOperator(task_id="start", bash_command="true")
        with TaskGroup("load") as group:
            steps = [BashOperator(task_id=f"step_{i}", bash_command="true") for i in range(7)]
            for a, b in pairwise(steps):
                a >> b
        last = BashOperator(task_id="finish", bash_command="true")
        first >> group >> last
        BashOperator(task_id="side", bash_command="true")
    return serialize_dag(d).to_json(), list(d.task_dict)


def _run_state(age: int) -> str:
    return "running" if age == 0 else "failed" if age == 3 else "success"


def seed(engine: Engine) -> str:
    now = pendulum.now("UTC")
    text, tasks = template()
    with begin_write(engine) as conn:
        conn.execute(insert(dag), [
            {"dag_id": f"dag_{d:04}", "fileloc": f"/dags/dag_{d:04}.py", "dag_hash": "h",
             "serialized": text.replace('"dag_tpl"', f'"dag_{d:04}"'), "timetable_summary": "@daily",
             "tags": [f"team-{d % 10}"], "is_paused": d % 7 == 0, "last_parsed_at": now,
             "next_dagrun_create_after": now.add(hours=d % 24)}
            for d in range(DAGS)
        ])  # fmt: skip
        runs = [
            {"dag_id": f"dag_{d:04}", "run_id": f"scheduled__{r}", "run_type": "scheduled",
             "logical_date": now.subtract(days=r), "state": _run_state(r), "start_date": now.subtract(days=r),
             "end_date": None if r == 0 else now.subtract(days=r, minutes=-5)}
            for d in range(DAGS) for r in range(RUNS_PER_DAG)
        ]  # fmt: skip
        conn.execute(insert(dag_run), runs)
        tis = [
            {"dag_run_id": pk, "dag_id": run["dag_id"], "run_id": run["run_id"], "task_id": t,
             "state": "success" if run["state"] != "running" or i < 4 else "scheduled", "try_number": 1,
             "start_date": run["start_date"].add(seconds=20 * i),
             "end_date": run["start_date"].add(seconds=20 * i + 15), "duration": 15.0}
            for pk, run in enumerate(runs, start=1) for i, t in enumerate(tasks)
        ]  # fmt: skip
        for start in range(0, len(tis), 10_000):
            conn.execute(insert(task_instance), tis[start : start + 10_000])
        conn.execute(insert(slot_pool), [{"pool": f"pool_{p}", "slots": 4 * p} for p in range(1, 6)])
        conn.execute(
            insert(import_error).values(filename="/dags/broken.py", timestamp=now, stacktrace="NameError")
        )
        create_user(conn, "bench", PASSWORD, Role.ADMIN, now=now)
    return "dag_0500"


#: Page -> (hash route, the selector that says it is drawn).
PAGES = {
    "DAGs (50 of 1,000)": ("#/dags", "table.dags tbody tr:nth-child(50) .sq"),
    "DAGs, search '12'": ("#/dags?q=12", "table.dags tbody tr .sq"),
    "DAGs, tag team-3": ("#/dags?tag=team-3", "table.dags tbody tr:nth-child(50) .sq"),
    "Grid (10 runs x 10 tasks)": ("#/dag/{dag}/grid", "#grid a.sq"),
    "Graph (dagre)": ("#/dag/{dag}/graph", "#graph svg a"),
    "Gantt": ("#/dag/{dag}/gantt?run=scheduled__1", "#gantt .gantt-bar"),
    "Task instance": ("#/ti/{dag}/scheduled__1/start", "#ti-tries table"),
    "Trigger": ("#/dag/{dag}/trigger", "#param-n"),
    "Pools": ("#/pools", "#pools tbody tr"),
    "Import errors": ("#/import-errors", "#import-errors article"),
    "Audit log": ("#/audit", "#audit tbody tr"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="Metadata database (default: SQLite in a temporary folder).")
    parser.add_argument("--loads", type=int, default=10, help="Loads per page.")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        engine = create_db_engine(args.db_url, pool_size=20)
        uvicorn.run(create_app(engine, ApiConfig(secret_key="bench")), host="127.0.0.1", port=PORT,
                    log_level="warning", access_log=False)  # fmt: skip
        return 0
    with tempfile.TemporaryDirectory() as folder:
        url = args.db_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = create_db_engine(url)
        migrate(engine)
        one_dag = seed(engine)
        engine.dispose()
        server = subprocess.Popen([sys.executable, __file__, "--serve", "--db-url", url])
        base = f"http://127.0.0.1:{PORT}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)  # polling a port until it answers, with a deadline
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                page.set_default_timeout(60_000)
                page.goto(base + "/ui/#/login")
                page.fill("#username", "bench")
                page.fill("#password", PASSWORD)
                page.click("form.login button[type=submit]")
                try:
                    page.wait_for_selector("table.dags")
                except Exception:
                    print(page.inner_text("body"))
                    raise
                print(f"{DAGS} DAGs, {DAGS * RUNS_PER_DAG * 10} task instances, {engine.dialect.name}, "
                      f"{args.loads} cold loads per page (HTML, script, API calls until drawn)")  # fmt: skip
                print(f"{'page':28} {'median ms':>10} {'p95 ms':>8}")
                for name, (route, selector) in PAGES.items():
                    timings = []
                    for _ in range(args.loads):
                        page.goto("about:blank")
                        started = time.perf_counter()
                        page.goto(base + "/ui/" + route.format(dag=one_dag))
                        page.wait_for_selector(selector)
                        timings.append(time.perf_counter() - started)
                    q = statistics.quantiles(timings, n=20) if len(timings) > 1 else timings * 19
                    print(f"{name:28} {statistics.median(timings) * 1000:10.0f} {q[18] * 1000:8.0f}")
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
