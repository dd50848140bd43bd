"""Daily partitions in a small SQLite warehouse: one idempotent task, one that is not.

``load_partition`` replaces the day's partition of ``daily_sales`` (delete, then
insert, in one transaction): run it twice for a day and the table is the same.
``append_audit`` appends one row to ``load_audit`` per run: run it twice and
there are two rows. Windvane's idempotency check (docs/testing.md) passes the
first and flags the second. The warehouse is the ``warehouse`` param, a SQLite
file (default: ``windvane-examples/warehouse.db`` in the system temp folder).
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

import pendulum

from windvane import DAG, task

REGIONS = ["emea", "amer", "apac"]


def _connect(params: dict[str, object]) -> contextlib.closing[sqlite3.Connection]:
    path = Path(
        str(params.get("warehouse") or Path(tempfile.gettempdir()) / "windvane-examples" / "warehouse.db")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return contextlib.closing(sqlite3.connect(path))


with DAG(
    "partitions",
    description="Upsert a daily partition (idempotent) and append an audit row (not idempotent)",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 1, "retry_delay": timedelta(seconds=5)},
    params={"warehouse": ""},
    tags=["example", "idempotency"],
) as dag:

    @task
    def extract(ds: str) -> list[list[object]]:
        day = int(ds[-2:])
        return [[ds, region, 100 * (i + 1) + day] for i, region in enumerate(REGIONS)]

    @task
    def load_partition(rows: list[list[object]], ds: str, params: dict[str, object]) -> int:
        with _connect(params) as conn, conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS daily_sales "
                "(ds TEXT NOT NULL, region TEXT NOT NULL, amount INTEGER, PRIMARY KEY (ds, region))"
            )
            conn.execute("DELETE FROM daily_sales WHERE ds = ?", (ds,))
            conn.executemany("INSERT INTO daily_sales VALUES (?, ?, ?)", rows)
        return len(rows)

    @task
    def append_audit(loaded: int, ds: str, params: dict[str, object]) -> None:
        with _connect(params) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS load_audit (ds TEXT NOT NULL, loaded INTEGER)")
            conn.execute("INSERT INTO load_audit VALUES (?, ?)", (ds, loaded))

    append_audit(load_partition(extract()))
