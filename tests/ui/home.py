"""``windvane standalone`` (scheduler, DAG processor, local executor and the API/UI) as a real
process for the browser tests, on SQLite in a temporary home with the DAGs below."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pendulum

from windvane.api.users import Role, create_user
from windvane.core.store.engine import begin_write, create_db_engine
from windvane.core.store.migrate import migrate

USER, PASSWORD = "admin", "ui-tests-password"

DAGS = """\
import pendulum
from windvane import DAG, BashOperator, TaskGroup

START = pendulum.datetime(2024, 1, 1, tz="UTC")

with DAG("ui_params", schedule=None, start_date=START, tags=["ui"],
         params={"greeting": "hello", "count": 2, "loud": False},
         description="Greets as its conf says"):
    begin = BashOperator(task_id="begin", bash_command="echo begin")
    with TaskGroup("work") as work:
        a = BashOperator(task_id="say", bash_command="echo '{{ params.greeting }} x{{ params.count }}'")
        b = BashOperator(task_id="count", bash_command="echo {{ params.count }}")
        a >> b
    end = BashOperator(task_id="end", bash_command="echo done")
    begin >> work >> end

with DAG("ui_flaky", schedule=None, start_date=START, tags=["ui"]):
    BashOperator(task_id="flaky", bash_command="test -f MARKER || { echo 'no marker yet'; exit 3; }")

with DAG("ui_pool", schedule=None, start_date=START, tags=["ui"]):
    BashOperator(task_id="starved", bash_command="echo never", pool="tiny")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Standalone:
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def marker(self) -> Path:
        return self.root / "marker"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "windvane.cli.main", "--home", str(self.root), *args]

    def _env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("WINDVANE")}

    def prepare(self) -> None:
        dags = self.root / "dags"
        dags.mkdir(parents=True)
        (dags / "ui_dags.py").write_text(DAGS.replace("MARKER", str(self.marker)))
        (dags / "broken.py").write_text("from windvane import DAG\n\nDAG('broken', schedule=no_such_name)\n")
        (self.root / "windvane.toml").write_text(
            f'[core]\ndags_folder = "{dags}"\nexecutor = "local"\nparallelism = 4\n\n'
            "[scheduler]\nidle_sleep_seconds = 0.05\nheartbeat_seconds = 1.0\n\n"
            "[dag_processor]\nrefresh_interval_seconds = 0.5\n\n"
            f'[api]\nport = {self.port}\nsecret_key = "ui-tests-secret"\n'
        )
        # In this process rather than two CLI runs: each would pay Python's start-up again.
        engine = create_db_engine(f"sqlite:///{self.root / 'windvane.db'}")
        try:
            migrate(engine, default_pool_slots=128)
            with begin_write(engine) as conn:
                create_user(conn, USER, PASSWORD, Role.ADMIN, now=pendulum.now("UTC"))
        finally:
            engine.dispose()

    def start(self) -> None:
        out = (self.root / "standalone.log").open("wb")
        self.process = subprocess.Popen(
            self._cli("standalone"), env=self._env(), stdout=out, stderr=subprocess.STDOUT
        )
        out.close()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        log = self.root / "standalone.log"
        return log.read_text(errors="replace") if log.exists() else ""
