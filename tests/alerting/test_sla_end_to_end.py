"""An SLA miss from a running task to a received email: scheduler, a real worker, the monitor, SMTP.

Airflow's chapter-style case, as written apart from the imports: a task with
``sla=timedelta(seconds=1)`` running ``sleep 5`` records one SLA miss (while it still
runs) and sends one SLA email to its ``email`` address; its ``sla_miss_callback`` is
called once; when it finally succeeds a "recovered, late by X" email follows. Plus
two monitors racing on PostgreSQL: one miss, one email.
"""

from __future__ import annotations

import importlib.metadata
import json
import threading
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine, select

from windvane.alerting.dispatcher import AlertDispatcher
from windvane.alerting.service import create as create_dispatcher
from windvane.alerting.sla.monitor import SlaConfig, SlaMonitor
from windvane.alerting.sla.service import SlaChecksOff
from windvane.alerting.sla.service import create as create_monitor
from windvane.alerting.tables import sla_miss
from windvane.cli.services import ServiceContext
from windvane.core.executors.sequential import SequentialExecutor
from windvane.core.model.clock import FakeClock
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import task_instance
from windvane.core.worker.dag_loader import DagLoader
from windvane.plugins import SERVICES_GROUP
from windvane.settings import Settings, load_settings
from windvane.testing import register_dag, run_states, wait_for, write_dag_file

from .conftest import SmtpServer
from .sla_world import NOW, SLA, World

DAG_SOURCE = """
import json
from datetime import timedelta
import pendulum
from windvane import DAG, BashOperator

def record(dag, task_list, blocking_task_list, slas, blocking_tis):
    with open({marks!r}, "a") as out:
        ids, states = [s.task_id for s in slas], [t.state for t in blocking_tis]
        out.write(json.dumps([dag.dag_id, task_list, ids, states]))
        out.write("\\n")

START = pendulum.datetime(2024, 1, 1, tz="UTC")
with DAG("sleepy", schedule=None, start_date=START, sla_miss_callback=record):
    BashOperator(task_id="nap", bash_command="sleep 5", sla=timedelta(seconds=1), email="bob@work.com")
"""


def settings_for(tmp_path: Path, smtp: SmtpServer) -> Settings:
    return load_settings(
        home=tmp_path,
        environ={},
        overrides={
            "alerting": {"enabled": True, "poll_interval_seconds": 0.05, "sla_poll_interval_seconds": 0.1},
            "smtp": {"host": smtp.host, "port": smtp.port, "mail_from": "windvane@ci"},
        },
    )


def test_a_task_over_its_sla_sends_one_sla_email_while_running_and_one_recovered_email(
    engine: Engine, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    marks = tmp_path / "marks.jsonl"
    path = write_dag_file(tmp_path, DAG_SOURCE.format(marks=str(marks)), "sleepy.py")
    now = pendulum.now("UTC")
    ser = register_dag(engine, DagLoader().get_dag(path, "sleepy"), now=now)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=now)
    settings = settings_for(tmp_path, smtp_server)
    services = [
        create_dispatcher(ServiceContext(settings, engine)),
        create_monitor(ServiceContext(settings, engine)),
    ]
    assert isinstance(services[1], SlaMonitor)
    for service in services:
        service.start()
    try:
        url = engine.url.render_as_string(hide_password=False)
        executor = SequentialExecutor(1, db_url=url, log_folder=str(tmp_path / "logs"))
        scheduler = Scheduler(
            engine=engine, executor=executor, config=SchedulerConfig(poll_interval_seconds=0.0)
        )
        scheduler.run(until=lambda _s: set(run_states(engine, "sleepy").values()) == {"success"}, timeout=60)
        wait_for(lambda: len(smtp_server.received) >= 2, timeout=30, what="the SLA and recovered emails")
    finally:
        for service in reversed(services):
            service.stop()
    with begin_read(engine) as conn:
        [miss] = conn.execute(select(sla_miss)).mappings().all()
        ended = conn.execute(
            select(task_instance.c.end_date).where(task_instance.c.task_id == "nap")
        ).scalar_one()
    assert (miss["run_id"], miss["task_id"], miss["state"]) in {
        (run_id, "nap", s) for s in ("queued", "running")
    }
    assert miss["detected_at"] < ended  # seen while the task still ran, not after
    assert miss["recovered_at"] is not None

    restarted = [
        create_dispatcher(ServiceContext(settings, engine)),
        create_monitor(ServiceContext(settings, engine)),
    ]
    assert isinstance(restarted[0], AlertDispatcher) and isinstance(restarted[1], SlaMonitor)
    restarted[1].run_tick()
    restarted[0].run_tick()  # nothing new to record, call or send

    subjects = sorted(str(mail.message["Subject"]) for mail in smtp_server.received)
    assert subjects == [
        f"[windvane] SLA missed: sleepy.nap in run {run_id}",
        subjects[1],
    ] and subjects[1].startswith("[windvane] recovered, late by ")
    assert all(mail.rcpt_tos == ["bob@work.com"] for mail in smtp_server.received)
    sla_mail = next(m for m in smtp_server.received if "SLA missed" in str(m.message["Subject"]))
    assert "Due at: " in sla_mail.part("plain") and "Late by: " in sla_mail.part("plain")
    calls = [json.loads(line) for line in marks.read_text().splitlines()]
    assert len(calls) == 1 and calls[0][0] == "sleepy" and calls[0][2] == ["nap"]
    assert calls[0][1].startswith("nap on ")


@pytest.mark.postgres
def test_two_monitors_on_postgres_record_each_miss_once_and_send_one_email(
    engine: Engine, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several monitors at once need PostgreSQL (SQLite has one writer)")
    world = World(engine, tmp_path, callback="record")
    runs = [world.trigger(run_id=f"manual__{n}") for n in range(20)]
    clock = FakeClock(NOW.add(seconds=SLA.total_seconds() + 1))
    monitors = [SlaMonitor(engine, config=SlaConfig(), available={"email"}, clock=clock) for _ in range(3)]
    start = threading.Barrier(len(monitors))
    recorded: list[int] = []

    def tick(m: SlaMonitor) -> None:
        start.wait()
        recorded.append(m.run_tick().recorded)

    threads = [threading.Thread(target=tick, args=(m,)) for m in monitors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(recorded) == len(runs) and len(world.misses()) == len(runs)  # the slow task of each run
    assert len(world.calls()) >= 1 and sorted(s[2] for c in world.calls() for s in c["slas"]) == sorted(runs)

    dispatcher = create_dispatcher(ServiceContext(settings_for(tmp_path, smtp_server), engine))
    assert isinstance(dispatcher, AlertDispatcher)
    while dispatcher.run_tick().claimed:
        pass
    assert sorted(m.message["Subject"] for m in smtp_server.received) == sorted(
        f"[windvane] SLA missed: late.slow in run {run_id}" for run_id in runs
    )


def test_the_monitor_is_a_declared_service_and_sla_checks_can_be_turned_off(
    tmp_path: Path, engine: Engine
) -> None:
    [entry] = [e for e in importlib.metadata.entry_points(group=SERVICES_GROUP) if e.name == "sla_monitor"]
    assert entry.load() is create_monitor
    settings = load_settings(home=tmp_path, environ={}, overrides={"alerting": {"sla_checks": False}})
    off = create_monitor(ServiceContext(settings, engine))
    assert isinstance(off, SlaChecksOff)
    off.start()
    off.stop()
    on = create_monitor(ServiceContext(load_settings(home=tmp_path, environ={}), engine))
    assert isinstance(on, SlaMonitor) and on.available == frozenset()  # alerting off: record, send nothing
    assert on.config.channels == ("email",) and not on.config.check_backfill and on.config.recovered_notice
