"""``windvane standalone`` as a real process for the alerting end-to-end tests: its home, its
DAGs, its outbox.

:class:`Home` writes a SQLite home whose ``windvane.toml`` holds the given
sections (alerting turned on with test-sized pacing) and starts, kills and
stops the process; :meth:`Home.outbox` reads the alert outbox from outside.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from windvane.alerting.tables import alert_outbox
from windvane.core.store.engine import begin_read, create_db_engine
from windvane.core.store.tables import dag_run

FAILING_DAG = """\
from datetime import timedelta
import pendulum
from windvane import DAG, BashOperator

ARGS = {"email": "bob@work.com", "retry_delay": timedelta(seconds=0)}
START = pendulum.datetime(2024, 1, 1, tz="UTC")

with DAG("outage", schedule="@once", start_date=START, default_args=ARGS):
    BashOperator(task_id="flaky", bash_command="exit 1", retries=1)   # a retry, then a failure
    BashOperator(task_id="fine", bash_command="true")

with DAG("outage_b", schedule="@once", start_date=START, default_args=ARGS):
    BashOperator(task_id="boom", bash_command="exit 2")               # a failure
"""
#: What FAILING_DAG's runs raise: (kind, "dag.task", try) of each task alert. One alert per kind and
#: run, so that grouping (alerts of one run and kind due together make one message) never merges two.
ALERTS = [
    ("task_retry", "outage.flaky", 1),
    ("task_failed", "outage.flaky", 2),
    ("task_failed", "outage_b.boom", 1),
]
#: Its runs' failure alerts (one per DAG).
RUN_ALERTS = ["run failed: outage ", "run failed: outage_b "]


def _toml(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


@dataclass
class Home:
    """A Windvane home on SQLite in ``root`` with ``sections`` (section -> key -> value) added."""

    root: Path
    sections: dict[str, dict[str, Any]]
    dag_source: str = FAILING_DAG
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    starts: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        dags = self.root / "dags"
        dags.mkdir(parents=True)
        (dags / "outage.py").write_text(self.dag_source)
        base: dict[str, dict[str, Any]] = {
            "core": {"dags_folder": str(dags), "executor": "local", "parallelism": 4},
            "scheduler": {"idle_sleep_seconds": 0.05, "heartbeat_seconds": 1.0},
            "dag_processor": {"refresh_interval_seconds": 0.2},
        }
        for name, values in self.sections.items():
            base.setdefault(name, {}).update(values)
        text = "".join(
            f"[{name}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items()) + "\n"
            for name, values in base.items()
        )
        (self.root / "windvane.toml").write_text(text)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.root / 'windvane.db'}"

    def start(self) -> None:
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("WINDVANE")}
        out = (self.root / f"standalone.{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "windvane.cli.main", "--home", str(self.root), "standalone"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()

    def kill(self) -> None:
        """SIGKILL the process and reap it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int:
        """SIGTERM the process; its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.root.glob("standalone.*.log")))

    def _read(self, stmt: Any) -> list[dict[str, Any]]:
        if not (self.root / "windvane.db").exists():
            return []
        engine = create_db_engine(self.url)
        try:
            with begin_read(engine) as conn:
                return [dict(r) for r in conn.execute(stmt).mappings()]
        except OperationalError:  # the schema is still being created
            return []
        finally:
            engine.dispose()

    def outbox(self) -> list[dict[str, Any]]:
        """Every outbox row, in id order."""
        return self._read(select(alert_outbox).order_by(alert_outbox.c.id))

    def run_states(self) -> dict[str, str]:
        """The state of each DAG's run, by DAG id."""
        return {r["dag_id"]: r["state"] for r in self._read(select(dag_run.c.dag_id, dag_run.c.state))}
