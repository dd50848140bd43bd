"""``windvane alerts sla-misses [--dag ID]``: the recorded SLA and run deadline misses."""

from __future__ import annotations

import argparse
from datetime import datetime

from windvane.alerting.alert import human
from windvane.alerting.sla.store import list_misses
from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.wiring import open_engine
from windvane.core.store.engine import begin_read


def _stamp(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")


def _list(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        found = list_misses(conn, dag_id=args.dag, limit=args.limit)
    rows = [
        {
            "dag_id": m.dag_id,
            "task_id": m.task_id or "(run deadline)",
            "run_id": m.run_id,
            "due_at": _stamp(m.due_at),
            "detected_at": _stamp(m.detected_at),
            "late_by": human(m.detected_at - m.due_at),
            "state": m.state,
            "recovered_at": _stamp(m.recovered_at),
            "callback": "pending" if m.callback_done_at is None else "done",
        }
        for m in found
    ]
    columns = ["dag_id", "task_id", "run_id", "due_at", "detected_at", "late_by", "state", "recovered_at"]
    cli.out.rows(rows, [*columns, "callback"], fmt=args.output, empty="No SLA misses.")
    return EXIT_OK
