"""``windvane alerts sla-misses [--dag ID]`` against a real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from windvane.alerting.sla import store
from windvane.alerting.sla.store import Candidate
from windvane.core.store.engine import begin_write, create_db_engine

from .test_cli import home, run

__all__ = ["home"]

DUE = datetime(2024, 3, 1, 12, tzinfo=UTC)


def candidate(dag_id: str, task_id: str, run_pk: int) -> Candidate:
    kind = "task_sla" if task_id else "run_deadline"
    return Candidate(kind, dag_id, f"manual__{run_pk}", run_pk, task_id, "manual", DUE, DUE, "running", None)


def test_sla_misses_lists_recorded_misses_newest_first_and_filters_by_dag(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(home, capsys, "alerts", "sla-misses")
    assert code == 0 and "No SLA misses." in out + err
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    try:
        with begin_write(engine) as conn:
            store.record(
                conn, candidate("etl", "load", 1), now=DUE + timedelta(seconds=65), callback_pending=True
            )
            store.record(conn, candidate("etl", "", 1), now=DUE + timedelta(hours=1), callback_pending=False)
            store.record(
                conn, candidate("other", "x", 2), now=DUE + timedelta(hours=2), callback_pending=False
            )
    finally:
        engine.dispose()
    code, out, _ = run(home, capsys, "alerts", "sla-misses", "--dag", "etl", "-o", "json")
    rows = json.loads(out)
    assert code == 0 and [(r["task_id"], r["late_by"]) for r in rows] == [
        ("(run deadline)", "1h"),
        ("load", "1m 5s"),
    ]
    assert (
        rows[1]["run_id"] == "manual__1"
        and rows[1]["callback"] == "pending"
        and rows[0]["callback"] == "done"
    )
    assert rows[1]["due_at"] == "2024-03-01T12:00:00+00:00" and rows[1]["recovered_at"] == ""
    code, out, _ = run(home, capsys, "alerts", "sla-misses", "-o", "json")
    assert [r["dag_id"] for r in json.loads(out)] == ["other", "etl", "etl"]
