"""Sample alerts for the channel tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from windvane.alerting.alert import Alert, AlertKind

TRACEBACK = """Traceback (most recent call last):
  File "/opt/dags/etl.py", line 12, in <module>
    load(rows)
ValueError: rows & columns <mismatch> in "orders"
"""


def make_alert(**changes: Any) -> Alert:
    alert = Alert(
        dedupe_key="task_failed:etl:load:scheduled__2026-12-06:2",
        kind=AlertKind.TASK_FAILED,
        dag_id="etl",
        run_id="scheduled__2026-12-06T00:00:00+00:00",
        occurred_at=datetime(2026, 12, 6, 22, 0, tzinfo=UTC),
        task_id="load",
        try_number=3,
        max_tries=2,
        state="failed",
        error=TRACEBACK,
        log_path="/var/log/windvane/etl/load/3.log",
        link="http://windvane.example/dags/etl/runs/1",
        recipients=("bob@work.com", "ops@work.com"),
    )
    return replace(alert, **changes)
