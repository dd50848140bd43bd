"""From a failing task to a received email: scheduler, a real worker, the journal, the dispatcher, SMTP.

Airflow's chapter-style case, as written apart from the imports: a DAG with
``default_args={"email": "bob@work.com"}`` whose task runs ``exit 1`` sends exactly one
failure email to that address.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from sqlalchemy import Engine

from windvane.alerting.dispatcher import AlertDispatcher
from windvane.alerting.service import create
from windvane.cli.services import ServiceContext
from windvane.core.executors.sequential import SequentialExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.worker.dag_loader import DagLoader
from windvane.settings import load_settings
from windvane.testing import register_dag, run_states, wait_for, write_dag_file

from .conftest import SmtpServer

NOW = pendulum.datetime(2024, 3, 1, tz="UTC")
DAG_SOURCE = """
import pendulum
from windvane import DAG, BashOperator

with DAG(
    "mailer",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    default_args={"email": "bob@work.com"},
):
    BashOperator(task_id="boom", bash_command="exit 1")
"""


def test_a_failing_task_with_email_sends_exactly_one_failure_email(
    engine: Engine, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    path = write_dag_file(tmp_path, DAG_SOURCE, "mailer.py")
    ser = register_dag(engine, DagLoader().get_dag(path, "mailer"), now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)
    settings = load_settings(
        home=tmp_path,
        environ={},
        overrides={
            "alerting": {"enabled": True, "poll_interval_seconds": 0.05, "group_wait_seconds": 0.2},
            "smtp": {"host": smtp_server.host, "port": smtp_server.port, "mail_from": "windvane@ci"},
        },
    )
    service = create(ServiceContext(settings=settings, engine=engine))
    service.start()  # as `windvane standalone` does: services first, then the scheduler loop
    try:
        url = engine.url.render_as_string(hide_password=False)
        executor = SequentialExecutor(1, db_url=url, log_folder=str(tmp_path / "logs"))
        config = SchedulerConfig(poll_interval_seconds=0.0)
        scheduler = Scheduler(engine=engine, executor=executor, config=config)
        scheduler.run(until=lambda _s: set(run_states(engine, "mailer").values()) == {"failed"}, timeout=60)
        assert set(run_states(engine, "mailer").values()) == {"failed"}
        wait_for(lambda: len(smtp_server.received) >= 1, timeout=30, what="the failure email")
    finally:
        service.stop()
    again = create(ServiceContext(settings=settings, engine=engine))  # a restarted dispatcher
    assert isinstance(again, AlertDispatcher)
    again.run_tick()  # relays and sends what is due: nothing, the alert is already sent

    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["bob@work.com"]
    assert "mailer.boom" in mail.message["Subject"] and "failed" in mail.message["Subject"]
    assert "exit" in mail.part("plain") or "code 1" in mail.part("plain")
