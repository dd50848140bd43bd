"""A DAG with an SLA, a run of it and monitors on a fake clock: shared by the SLA tests."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pendulum
from sqlalchemy import Engine, select, update

from windvane.alerting.sla.monitor import SlaConfig, SlaMonitor
from windvane.alerting.tables import alert_outbox, sla_miss
from windvane.core.interfaces import SerializedDag
from windvane.core.model.clock import FakeClock
from windvane.core.model.states import DagRunType
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.worker.dag_loader import DagLoader
from windvane.metrics.sink import RecordingSink
from windvane.testing import register_dag, write_dag_file

NOW = pendulum.datetime(2024, 3, 1, 12, tz="UTC")
SLA = pendulum.duration(minutes=10)
DEADLINE = pendulum.duration(hours=1)

DAG_SOURCE = """
import json, time
from datetime import timedelta
import pendulum
from windvane import DAG, BashOperator

MARKS = {marks!r}

def record(dag, task_list, blocking_task_list, slas, blocking_tis):
    with open(MARKS, "a") as out:
        out.write(json.dumps({{
            "dag": dag.dag_id, "task_list": task_list, "blocking_task_list": blocking_task_list,
            "slas": [[s.task_id, s.dag_id, s.run_id, s.execution_date.isoformat(), s.timestamp.isoformat(),
                      s.due_at.isoformat()] for s in slas],
            "blocking_tis": [[t.task_id, t.run_id, t.state] for t in blocking_tis],
        }}) + "\\n")

def boom(*args):
    raise RuntimeError("the SLA callback itself fails")

def hang(*args):
    time.sleep(120)

with DAG("late", schedule={schedule!r}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         deadline=timedelta(hours=1), sla_miss_callback={callback}):
    slow = BashOperator(task_id="slow", bash_command="true", sla=timedelta(minutes=10), email="bob@work.com")
    after = BashOperator(task_id="after", bash_command="true", email=["ann@work.com", "bob@work.com"])
    slow >> after
"""


class World:
    """The DAG ``late`` registered in ``engine``; ``marks`` is where its SLA callback writes."""

    def __init__(
        self, engine: Engine, tmp_path: Path, *, callback: str = "record", schedule: str | None = None
    ) -> None:
        self.engine = engine
        self.marks = tmp_path / "marks.jsonl"
        source = DAG_SOURCE.format(marks=str(self.marks), callback=callback, schedule=schedule)
        path = write_dag_file(tmp_path, source, "late.py")
        self.dag: SerializedDag = register_dag(engine, DagLoader().get_dag(path, "late"), now=NOW)
        self.clock = FakeClock(NOW)
        self.metrics = RecordingSink()

    def trigger(
        self,
        *,
        at: pendulum.DateTime = NOW,
        logical: pendulum.DateTime | None = None,
        run_type: DagRunType = DagRunType.MANUAL,
        run_id: str | None = None,
    ) -> str:
        """A run created ``at`` (for ``logical``, default ``at``); its run id."""
        with begin_write(self.engine) as conn:
            return trigger_dag(
                conn, self.dag, now=at, logical_date=logical or at, run_type=run_type, run_id=run_id
            )[1]

    def monitor(self, available: Collection[str] = ("email",), **config: Any) -> SlaMonitor:
        options: dict[str, Any] = {"callback_timeout": 20.0}
        options.update(config)
        return SlaMonitor(
            self.engine,
            config=SlaConfig(**options),
            available=available,
            clock=self.clock,
            metrics=self.metrics,
        )

    def run_pk(self, run_id: str) -> int:
        with begin_read(self.engine) as conn:
            return int(conn.execute(select(dag_run.c.id).where(dag_run.c.run_id == run_id)).scalar_one())

    def set_ti(self, run_id: str, task_id: str, state: str, end: pendulum.DateTime | None = None) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                update(task_instance)
                .where(task_instance.c.run_id == run_id, task_instance.c.task_id == task_id)
                .values(state=state, end_date=end)
            )

    def set_run(self, run_id: str, state: str, end: pendulum.DateTime | None = None) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(update(dag_run).where(dag_run.c.run_id == run_id).values(state=state, end_date=end))

    def misses(self) -> list[dict[str, Any]]:
        with begin_read(self.engine) as conn:
            return [dict(r) for r in conn.execute(select(sla_miss).order_by(sla_miss.c.id)).mappings()]

    def outbox(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(kind, channel, recipients) of every outbox row, oldest first."""
        with begin_read(self.engine) as conn:
            rows = conn.execute(select(alert_outbox).order_by(alert_outbox.c.id)).mappings()
            return [(r["kind"], r["channel"], tuple(r["payload"]["recipients"])) for r in rows]

    def calls(self) -> list[dict[str, Any]]:
        if not self.marks.exists():
            return []
        return [json.loads(line) for line in self.marks.read_text().splitlines()]

    def missed_counts(self) -> list[dict[str, str]]:
        return [labels for _, name, _, labels in self.metrics.events if name == "windvane_sla_missed_total"]
