"""``db clean --older-than``: finished runs with their task instances, XComs and log folders, the
journal, and the plug-ins' rows (alerting) go; recent and unfinished runs and pending alerts stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine, func, insert, select

from windvane.alerting.tables import alert_outbox, sla_miss
from windvane.core.store.engine import begin_read, begin_write, create_db_engine
from windvane.core.store.tables import dag_run, task_instance, xcom

from .conftest import RunCli

NOW = pendulum.now("UTC")


@pytest.fixture
def engine(run_cli: RunCli, home: Path) -> Iterator[Engine]:
    assert run_cli("db", "migrate").code == 0
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    yield engine
    engine.dispose()


def _run(engine: Engine, home: Path, run_id: str, *, days_ago: float, state: str) -> int:
    at = NOW - timedelta(days=days_ago)
    with begin_write(engine) as conn:
        pk: int = conn.execute(
            insert(dag_run).values(
                dag_id="d", run_id=run_id, run_type="scheduled", logical_date=at, state=state,
                start_date=at, end_date=None if state == "running" else at,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(insert(task_instance).values(dag_run_id=pk, dag_id="d", run_id=run_id, task_id="t"))
        conn.execute(
            insert(xcom).values(dag_run_id=pk, task_id="t", key="k", dag_id="d", run_id=run_id, value="1",
                                timestamp=at)
        )  # fmt: skip
        conn.execute(
            insert(sla_miss).values(
                kind="task", dag_id="d", run_id=run_id, dag_run_id=pk, task_id="t", run_type="scheduled",
                logical_date=at, due_at=at, detected_at=at, state="missed",
            )
        )  # fmt: skip
    folder = home / "logs" / "dag_id=d" / f"run_id={run_id}" / "task_id=t"
    folder.mkdir(parents=True)
    (folder / "attempt=1.log").write_text("log\n")
    return pk


def _outbox(engine: Engine, key: str, state: str, days_ago: float) -> None:
    at = NOW - timedelta(days=days_ago)
    with begin_write(engine) as conn:
        conn.execute(
            insert(alert_outbox).values(
                dedupe_key=key, channel="email", kind="task_failed", payload={}, state=state, attempts=1,
                next_attempt_at=at, created_at=at, dag_id="d",
            )
        )  # fmt: skip


def _counts(engine: Engine) -> dict[str, int]:
    with begin_read(engine) as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (dag_run, task_instance, xcom, sla_miss, alert_outbox)
        }


def test_dry_run_counts_then_clean_deletes_only_old_finished_history(
    run_cli: RunCli, engine: Engine, home: Path
) -> None:
    _run(engine, home, "old_ok", days_ago=40, state="success")
    _run(engine, home, "old_failed", days_ago=35, state="failed")
    _run(engine, home, "old_running", days_ago=40, state="running")
    _run(engine, home, "recent", days_ago=1, state="success")
    _outbox(engine, "sent-old", "sent", 40)
    _outbox(engine, "pending-old", "pending", 40)
    _outbox(engine, "sent-new", "sent", 1)
    before = _counts(engine)

    dry = run_cli("db", "clean", "--older-than", "30", "--dry-run")
    assert dry.code == 0, dry.err
    assert "Would delete 2 DAG runs that finished before" in dry.out
    assert "with 2 task instances, 2 XComs and 2 log folders." in dry.out
    assert "Would delete rows of plug-in 'alerting'" in dry.out and "alert_outbox 1" in dry.out
    assert _counts(engine) == before
    assert (home / "logs" / "dag_id=d" / "run_id=old_ok").is_dir()

    done = run_cli("db", "clean", "--older-than", "30")
    assert done.code == 0, done.err
    assert "Deleted 2 DAG runs" in done.out and "sla_miss 2" in done.out
    with begin_read(engine) as conn:
        runs = set(conn.execute(select(dag_run.c.run_id)).scalars())
        alerts = set(conn.execute(select(alert_outbox.c.dedupe_key)).scalars())
        misses = set(conn.execute(select(sla_miss.c.run_id)).scalars())
    assert runs == {"old_running", "recent"} and misses == runs
    assert alerts == {"pending-old", "sent-new"}
    assert _counts(engine)["task_instance"] == 2 and _counts(engine)["xcom"] == 2
    logs = home / "logs" / "dag_id=d"
    assert sorted(p.name for p in logs.iterdir()) == ["run_id=old_running", "run_id=recent"]

    again = run_cli("db", "clean", "--older-than", "30")
    assert "Deleted 0 DAG runs" in again.out and "alert_outbox 0" in again.out
