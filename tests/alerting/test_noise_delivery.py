"""Noise control end to end on a real database (SQLite and PostgreSQL): real scheduler runs, the relay,
the outbox and the dispatcher with fake channels; and 20 failing tasks => one email on a real SMTP server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace

import pendulum
import pytest
from sqlalchemy import Engine

from tests.runtime.test_scheduler import Noop, drive, make_scheduler
from windvane.alerting import outbox
from windvane.alerting.alert import AlertKind
from windvane.alerting.channels.email import EmailChannel, SmtpConfig
from windvane.alerting.dispatcher import AlertDispatcher, DispatchConfig
from windvane.alerting.links import Links
from windvane.alerting.noise import LISTED, NoiseConfig, group_key
from windvane.alerting.relay import Relay
from windvane.alerting.routing import Routing
from windvane.alerting.silences import add_silence, end_silence, list_silences
from windvane.core.authoring.dag import DAG
from windvane.core.model.clock import FakeClock
from windvane.core.model.workload import Workload
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.metrics import RecordingSink
from windvane.metrics.catalogue import ALERTS_HELD_BACK
from windvane.testing import InstantExecutor, register_dag, run_states

from .conftest import SmtpServer
from .fakes import NOW, Flaky, Recording, alert, rows

SLACK_ALL = Routing(
    by_kind=(
        (AlertKind.TASK_FAILED, ("email", "slack")),
        (AlertKind.TASK_RETRY, ("slack",)),
        (AlertKind.RUN_FAILED, ("slack",)),
    )
)
KEEP_TASK_ALERTS = NoiseConfig(group_wait=5.0, replace_task_alerts=False)


def fan_out(
    engine: Engine,
    clock: FakeClock,
    *,
    dag_id: str = "fan",
    tasks: int = 50,
    email: str | None = None,
    outcome: Callable[[Workload], str] = lambda w: "failed",
    run_id: str | None = None,
) -> None:
    """One run of a DAG of ``tasks`` parallel tasks, each finishing as ``outcome`` says (failed)."""
    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        for n in range(tasks):
            Noop(task_id=f"t{n:02d}", retries=0, email=email)
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run = trigger_dag(conn, ser, now=clock.now(), run_id=run_id)
    executor = InstantExecutor(8, engine=engine, outcome=outcome, clock=clock)
    drive(
        make_scheduler(engine, executor, clock),
        lambda: run_states(engine, dag_id).get(run) in ("failed", "success"),
    )


def dispatcher(
    engine: Engine, channels: dict[str, Recording], clock: FakeClock, noise: NoiseConfig
) -> AlertDispatcher:
    d = AlertDispatcher(
        engine, channels, routing=SLACK_ALL, clock=clock, noise=noise, draw=lambda: 1.0,
        config=DispatchConfig(max_age=3600.0),
    )  # fmt: skip
    d.run_tick()  # registers the relay at the journal's tail
    return d


def test_a_fan_out_of_fifty_failures_is_one_message_after_the_group_wait(engine: Engine) -> None:
    clock = FakeClock(NOW)
    slack = Recording("slack")
    d = dispatcher(engine, {"slack": slack}, clock, KEEP_TASK_ALERTS)
    fan_out(engine, clock)

    first = d.run_tick()
    assert first.relayed.added == 51  # 50 task alerts + the run's
    assert [a.kind for a in slack.alerts] == [AlertKind.RUN_FAILED]  # task alerts wait group_wait
    clock.advance(4.9)
    assert d.run_tick().claimed == 0
    clock.advance(0.1)
    done = d.run_tick()
    assert (done.claimed, done.sent) == (1, 1)
    [group] = slack.alerts[1:]
    assert group.is_group and group.member_count == 50 and len(group.members) == LISTED
    listed = [m.task_id for m in group.members]  # the first twenty to fail, in the order they failed
    assert len(set(listed)) == LISTED and listed[0] == group.task_id
    assert "x50" in group.subject
    assert d.run_tick().claimed == 0
    task_rows = [r for r in rows(engine) if r["kind"] == "task_failed"]
    assert len(task_rows) == 50 and all(r["state"] == "sent" and r["attempts"] == 1 for r in task_rows)
    leader = task_rows[0]["id"]
    assert [r["merged_into"] for r in task_rows] == [None] + [leader] * 49


def test_a_group_that_fails_is_retried_whole_and_sent_once(engine: Engine) -> None:
    clock = FakeClock(NOW)
    slack = Flaky("slack", failures=2)
    d = dispatcher(engine, {"slack": slack}, clock, NoiseConfig(group_wait=0.0, replace_task_alerts=False))
    fan_out(engine, clock, tasks=10)
    d.run_tick()  # the run alert and the group: both fail (2 failures)
    assert all(r["state"] == "pending" and r["claimed_by"] is None for r in rows(engine))
    for _ in range(5):
        clock.advance(60)
        d.run_tick()
    assert sorted(slack.received.values()) == [1, 1]  # two messages, each delivered once
    [group] = [a for a in slack.alerts if a.kind is AlertKind.TASK_FAILED]
    assert group.member_count == 10
    assert all(r["state"] == "sent" for r in rows(engine))


def test_a_run_failure_alert_replaces_its_tasks_alerts_but_not_their_emails(engine: Engine) -> None:
    clock = FakeClock(NOW)
    slack, email = Recording("slack"), Recording("email")
    d = dispatcher(engine, {"slack": slack, "email": email}, clock, NoiseConfig(group_wait=5.0))
    d.relay.metrics = sink = RecordingSink()
    fan_out(engine, clock, tasks=5, email="bob@work.com")

    relayed = d.run_tick().relayed
    # 5 emails, 5 Slack task alerts and the run's; then the run's replaces those 5
    assert (relayed.added, relayed.superseded) == (11, 5)
    [run_alert] = slack.alerts
    assert run_alert.kind is AlertKind.RUN_FAILED and run_alert.member_count == 5
    assert sorted(m.task_id or "" for m in run_alert.members) == [f"t{n:02d}" for n in range(5)]
    superseded = [r for r in rows(engine) if r["state"] == "superseded"]
    assert len(superseded) == 5 and {r["channel"] for r in superseded} == {"slack"}
    assert all("run-failure alert" in str(r["note"]) for r in superseded)
    assert sink.total(ALERTS_HELD_BACK, channel="slack", state="superseded") == 5
    clock.advance(5)
    d.run_tick()
    [mail] = email.alerts  # Airflow's email_on_failure still reaches bob, as one message for the run
    assert mail.member_count == 5 and mail.recipients == ("bob@work.com",)
    with begin_read(engine) as conn:
        assert outbox.counts(conn)["superseded"] == 5 and outbox.counts(conn)["pending"] == 0


def test_a_still_failing_dag_alerts_once_per_repeat_interval_until_a_run_succeeds(engine: Engine) -> None:
    clock = FakeClock(NOW)
    slack = Recording("slack")
    noise = NoiseConfig(group_wait=0.0, repeat_interval=3600.0)
    routing = Routing(by_kind=((AlertKind.RUN_FAILED, ("slack",)),))
    d = AlertDispatcher(engine, {"slack": slack}, routing=routing, clock=clock, noise=noise)
    d.run_tick()

    def run(n: int, outcome: str) -> None:
        clock.advance(600)
        fan_out(engine, clock, dag_id="flaky", tasks=1, outcome=lambda w: outcome, run_id=f"r{n}")
        d.run_tick()

    run(1, "failed")  # alerts
    run(2, "failed")  # 10 min later: a repeat, suppressed
    run(3, "failed")  # suppressed
    run(4, "success")  # the DAG recovered
    run(5, "failed")  # alerts again
    assert [a.run_id for a in slack.alerts] == ["r1", "r5"]
    states = {r["run_id"]: (r["state"], r["note"]) for r in rows(engine)}
    assert states["r1"] == ("sent", None) and states["r5"] == ("sent", None)
    assert states["r2"][0] == states["r3"][0] == "suppressed"
    assert "still failing" in str(states["r3"][1]) and "2 repeat(s)" in str(states["r3"][1])
    for n in range(6, 13):  # an hour of failures after r5: r11 (60 min after r5) alerts again
        run(n, "failed")
    assert [a.run_id for a in slack.alerts] == ["r1", "r5", "r11"]


def test_silences_are_listed_recorded_and_can_end_early(engine: Engine) -> None:
    clock = FakeClock(NOW)
    sink = RecordingSink()
    noise = NoiseConfig(group_wait=0.0, replace_task_alerts=False)
    relay = Relay(engine, SLACK_ALL, ("slack",), noise=noise, metrics=sink)
    relay.run_once(NOW)
    with begin_write(engine) as conn:
        sid = add_silence(conn, "fan", until=NOW.add(hours=2), reason="deploy", created_by="ann@box", now=NOW)
        old = add_silence(conn, "x", until=NOW.add(minutes=1), reason="old", created_by="ann@box", now=NOW)
    fan_out(engine, clock, tasks=3)
    done = relay.run_until_caught_up(NOW)
    assert (done.added, done.silenced) == (0, 4)
    assert sink.total(ALERTS_HELD_BACK, channel="slack", state="silenced") == 4
    assert {r["state"] for r in rows(engine)} == {"silenced"}
    assert all(f"silence {sid}" in str(r["note"]) and "deploy" in str(r["note"]) for r in rows(engine))
    later = NOW.add(minutes=30)
    with begin_write(engine) as conn:
        assert [s.id for s in list_silences(conn, now=later, expired_within=pendulum.duration(days=1))] == [
            old,
            sid,
        ]
        assert [
            s.id for s in list_silences(conn, now=later, expired_within=pendulum.duration(minutes=5))
        ] == [sid]
        ended = end_silence(conn, sid, now=later, ended_by="bob@box")
        assert ended.until == later and ended.ended_by == "bob@box" and not ended.active(later)
    fan_out(engine, clock, tasks=3, run_id="again")
    assert relay.run_until_caught_up(later).added == 4  # nothing silences them any more


def test_alerts_carry_the_tries_log_path_host_and_link(engine: Engine) -> None:
    clock = FakeClock(NOW)
    links = Links(log_folder="/var/log/windvane", base_url="https://wv.example")
    relay = Relay(engine, SLACK_ALL, ("slack",), noise=NoiseConfig(replace_task_alerts=False), links=links)
    relay.run_once(NOW)
    fan_out(engine, clock, tasks=1, run_id="r1")
    relay.run_until_caught_up(NOW)
    task = next(r for r in rows(engine) if r["kind"] == "task_failed")["payload"]
    assert task["log_path"] == "/var/log/windvane/dag_id=fan/run_id=r1/task_id=t00/attempt=1.log"  # type: ignore[index]
    assert task["link"] == "https://wv.example/dags/fan/runs/r1/tasks/t00?try_number=1"  # type: ignore[index]
    run = next(r for r in rows(engine) if r["kind"] == "run_failed")["payload"]
    assert run["link"] == "https://wv.example/dags/fan/runs/r1" and run["log_path"] is None  # type: ignore[index]


def test_twenty_failing_tasks_of_one_run_make_one_email(engine: Engine, smtp_server: SmtpServer) -> None:
    clock = FakeClock(NOW)
    channel = EmailChannel(SmtpConfig(host=smtp_server.host, port=smtp_server.port, mail_from="wv@ci"))
    links = Links(log_folder="/logs", base_url="https://wv.example")
    d = AlertDispatcher(
        engine,
        {"email": channel},
        routing=Routing(),
        clock=clock,
        noise=NoiseConfig(group_wait=3.0),
        links=links,
    )
    d.run_tick()
    fan_out(engine, clock, tasks=20, email="bob@work.com", run_id="nightly")
    asyncio.run(d.tick())
    assert smtp_server.received == []  # within the group wait
    clock.advance(3)
    assert d.run_tick().sent == 1
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["bob@work.com"]
    assert mail.message["Subject"] == "[windvane] task failed x20: fan in run nightly"
    text = mail.part("plain")
    assert "20 task failed alerts in this run:" in text
    assert all(f"- t{n:02d} try 1/1" in text for n in range(20))
    assert "/logs/dag_id=fan/run_id=nightly/task_id=t00/attempt=1.log" in text
    assert "https://wv.example/dags/fan/runs/nightly" in text
    assert "<li>t19 try 1/1" in mail.part("html")
    assert all(r["state"] == "sent" for r in rows(engine))


@pytest.mark.postgres
def test_four_dispatchers_on_postgres_send_each_grouped_alert_exactly_once(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several dispatchers at once need PostgreSQL (SQLite has one writer)")
    with begin_write(engine) as conn:
        for run in range(10):
            for n in range(LISTED):
                a = replace(alert(n), run_id=f"r{run}", dedupe_key=f"task_failed|d|t{n}|r{run}|1|slack")
                outbox.insert(conn, a, "slack", now=NOW, group_key=group_key(a, "slack"))
    slack = Recording("slack")
    config = DispatchConfig(batch_size=3, concurrency=2)
    workers = [
        AlertDispatcher(engine, {"slack": slack}, clock=FakeClock(NOW), config=config, owner=f"d{i}")
        for i in range(4)
    ]

    def drain(d: AlertDispatcher) -> None:
        while d.run_tick().claimed:
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    delivered = [m.dedupe_key for a in slack.alerts for m in (a.members or (a,))]
    assert len(delivered) == len(set(delivered)) == 10 * LISTED  # every alert once, none twice
    assert len(slack.alerts) >= 10  # at least one message per run (a group may be split, never doubled)
    with begin_read(engine) as conn:
        assert outbox.counts(conn)["sent"] == 10 * LISTED
