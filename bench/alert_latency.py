"""Alert latency: from a task failing to the message being received, p50/p95 over N failing tasks.

The real path: scheduler + LocalExecutor workers (each try a forked process that fails and journals
it), the alert dispatcher (relay + outbox + channels) on its own thread as ``windvane scheduler``
runs it, a real SMTP server (aiosmtpd) and a local HTTP server answering like a Slack webhook. The
latency of one alert is the moment the server received it minus the failure's journal row
``recorded_at`` (the alert's ``occurred_at``: the fact the alert announces, committed with the
try's state). Several dispatcher settings run side by side on the same workload.

    python bench/alert_latency.py [--db sqlite,postgres] [--tasks 30] [--parallelism 1]
                                  [--variants poll2,poll0.5,poll2+check0.2,...]

With ``--parallelism 1`` the failures come one at a time (the latency of one alert); more slots make
bursts, where alerts also queue behind each other. Rows ``(stage) relayed`` (journal row -> outbox
row ``created_at``, which is the start of the dispatcher tick that relayed it) and ``(stage)
claimed+sent`` (that -> ``sent_at``, the time the channel accepted it) split the latency roughly.

Grouping is off (``group_wait_seconds = 0``): its default wait of 5 s delays every task alert by up
to that much on purpose, to gather a run's failures into one message.

Variants: ``pollX`` = ``[alerting] poll_interval_seconds = X`` with ``journal_check_seconds = 0``
(polling only); ``pollX+checkY`` sets ``journal_check_seconds = Y`` (between ticks the dispatcher
looks at the journal's tail every Y s and ticks at once when it grew).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import re
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pendulum
from _common import fresh_db, median, pct, table
from aiosmtpd.controller import Controller
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: tests.alerting

from tests.alerting.conftest import free_port
from tests.alerting.fake_slack import FakeSlack, Recorded, Reply

from windvane.alerting.service import create
from windvane.alerting.tables import alert_outbox
from windvane.cli.services import ServiceContext
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.executors.local import LocalExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store._time import from_db
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import state_journal
from windvane.core.worker.dag_loader import DagLoader
from windvane.settings import load_settings

DAG = """
import pendulum
from windvane import DAG, PythonOperator

def boom():
    raise ValueError("boom")

with DAG("lat", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None, max_active_tasks=64,
         default_args={{"email": "bob@work.com"}}):
    for i in range({n}):
        PythonOperator(task_id=f"t{{i:03d}}", python_callable=boom)
"""
TASK = re.compile(r"lat\.(t\d{3})")
#: A task id anywhere in a message: a grouped message (alerts due together) lists several.
ANY_TASK = re.compile(r"\b(t\d{3})\b")


@dataclass
class Arrivals:
    """When each task's message arrived (unix seconds), by task id."""

    at: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, text: str) -> None:
        now = time.time()
        with self.lock:
            for task in ANY_TASK.findall(text):
                self.at.setdefault(task, now)


class Mailbox:
    """The aiosmtpd handler: notes each message's arrival."""

    def __init__(self) -> None:
        self.arrivals = Arrivals()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        plain = message.get_body(preferencelist=("plain",))
        body = plain.get_content() if plain is not None else ""
        self.arrivals.note(f"{message['Subject']}\n{body}")
        return "250 Message accepted"


class TimedSlack(FakeSlack):
    """The fake Slack, noting each post's arrival."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals = Arrivals()

    def _next_reply(self, recorded: Recorded) -> Reply:
        self.arrivals.note(recorded.body.decode(errors="replace"))
        return super()._next_reply(recorded)


def variant_settings(name: str) -> dict[str, float]:
    found = re.fullmatch(r"poll([\d.]+)(?:\+check([\d.]+))?", name)
    if not found:
        raise SystemExit(f"bad variant {name!r}: pollX or pollX+checkY")
    return {
        "poll_interval_seconds": float(found.group(1)),
        "journal_check_seconds": float(found.group(2) or 0.0),
    }


def run_one(kind: str, variant: str, tasks: int, parallelism: int, home: Path) -> dict[str, list[float]]:
    path = home / "lat.py"
    path.write_text(textwrap.dedent(DAG.format(n=tasks)))
    mailbox, slack = Mailbox(), TimedSlack().start()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        with fresh_db(kind) as (url, engine):
            ser = serialize_dag(DagLoader().get_dag(str(path), "lat"))
            with begin_write(engine) as conn:
                upsert_dag(
                    conn,
                    dag_id="lat",
                    fileloc=str(path),
                    dag_hash=ser.dag_hash,
                    serialized=ser.to_json(),
                    last_parsed_at=pendulum.now("UTC"),
                )
            settings = load_settings(
                home=home,
                environ={},
                overrides={
                    "alerting": {
                        "enabled": True,
                        "task_failure_channels": ["email", "slack"],
                        "group_wait_seconds": 0.0,  # grouping's wait (default 5 s) is a choice, not cost
                        **variant_settings(variant),
                    },
                    "smtp": {"host": "127.0.0.1", "port": smtp.port, "mail_from": "windvane@bench"},
                    "slack": {"webhook_url": slack.webhook_url},
                },
            )
            dispatcher = create(ServiceContext(settings=settings, engine=engine))
            dispatcher.start()
            try:
                with begin_write(engine) as conn:
                    trigger_dag(conn, ser, now=pendulum.now("UTC"))
                executor = LocalExecutor(parallelism, db_url=url, log_folder=str(home / "logs"))
                config = SchedulerConfig(
                    parallelism=parallelism, poll_interval_seconds=0.1, idle_sleep_seconds=0.1
                )
                scheduler = Scheduler(engine=engine, executor=executor, config=config)
                scheduler.run(until=lambda s: not s.runs and s.job_id != 0, timeout=600)
                deadline = time.monotonic() + 120
                while min(len(mailbox.arrivals.at), len(slack.arrivals.at)) < tasks:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{variant}: not every alert arrived within 120 s")
                    time.sleep(0.01)
            finally:
                dispatcher.stop()
            with begin_read(engine) as conn:
                facts = {
                    r.task_id: from_db(r.recorded_at).timestamp()  # type: ignore[union-attr]
                    for r in conn.execute(
                        select(state_journal.c.task_id, state_journal.c.recorded_at).where(
                            state_journal.c.kind == "try_finished", state_journal.c.state == "failed"
                        )
                    )
                }
                stages: dict[str, list[float]] = {"relayed": [], "claimed+sent": []}
                for r in conn.execute(select(alert_outbox)).mappings():
                    task = TASK.search(r["dedupe_key"].replace("|", "."))
                    created = from_db(r["created_at"]).timestamp()  # type: ignore[union-attr]
                    sent = from_db(r["sent_at"]).timestamp()  # type: ignore[union-attr]
                    if task:
                        stages["relayed"].append(created - facts[task.group(1)])
                        stages["claimed+sent"].append(sent - created)
    finally:
        smtp.stop()
        slack.stop()
    return {
        **{
            channel: [arrivals.at[task] - facts[task] for task in facts]
            for channel, arrivals in (("email", mailbox.arrivals), ("slack", slack.arrivals))
        },
        **{f"(stage) {name}": values for name, values in stages.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument(
        "--parallelism", type=int, default=1, help="LocalExecutor slots: 1 spaces the failures out"
    )
    parser.add_argument("--variants", default="poll2,poll0.5,poll2+check0.2,poll2+check0.05")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            for variant in args.variants.split(","):
                home = Path(tmp) / f"{kind}-{variant}"
                home.mkdir()
                latencies = run_one(kind, variant, args.tasks, args.parallelism, home)
                for channel, values in latencies.items():
                    ms = [v * 1000 for v in values]
                    rows.append([kind, variant, channel, len(ms), median(ms), pct(ms, 95), max(ms)])
    print(
        table(
            f"Alert latency: task failure (journal recorded_at) -> message received, "
            f"LocalExecutor x{args.parallelism}",
            ["db", "dispatcher", "channel", "alerts", "p50 ms", "p95 ms", "max ms"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
