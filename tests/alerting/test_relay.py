"""The relay turns the journal of real scheduler runs into exactly the right outbox rows, once."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from sqlalchemy import Engine, update

from tests.runtime.test_scheduler import Noop, drive, make_scheduler
from windvane.alerting.alert import AlertKind
from windvane.alerting.dispatcher import AlertDispatcher
from windvane.alerting.noise import NoiseConfig
from windvane.alerting.relay import CONSUMER, Relay
from windvane.alerting.routing import Routing
from windvane.alerting.silences import add_silence
from windvane.core.authoring.dag import DAG
from windvane.core.model.clock import FakeClock
from windvane.core.model.workload import Workload
from windvane.core.store import journal
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import journal_consumer
from windvane.testing import InstantExecutor, register_dag, run_states

from .fakes import NOW, Recording, rows

#: Noise control off: every alert on its own, at once (the noise tests turn each part on).
QUIET = NoiseConfig(group_wait=0.0, replace_task_alerts=False, repeat_interval=0.0)

ROUTING = Routing(
    by_kind=(
        (AlertKind.TASK_FAILED, ("email", "slack")),
        (AlertKind.TASK_RETRY, ("email",)),
        (AlertKind.RUN_FAILED, ("slack",)),
    )
)


def failing_run(engine: Engine, *, dag_id: str = "etl") -> None:
    """A DAG whose task ``load`` (email set, one retry) fails both tries; ``ok`` succeeds."""
    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="ok") >> Noop(
            task_id="load", retries=1, retry_delay=timedelta(seconds=0), email="bob@work.com"
        )
        Noop(task_id="quiet", retries=0)  # fails too, but has no email
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)

    def outcome(w: Workload) -> str | tuple[str, float]:
        if w.task_id == "ok":
            return "success"
        if w.task_id == "load" and w.try_number == 1:
            return ("up_for_retry", 0.0)
        return "failed"

    clock = FakeClock(NOW)
    scheduler = make_scheduler(engine, InstantExecutor(4, engine=engine, outcome=outcome, clock=clock), clock)
    drive(scheduler, lambda: "failed" in run_states(engine, dag_id).values())


def summary(engine: Engine) -> list[tuple[object, ...]]:
    return sorted(
        (
            r["kind"],
            r["channel"],
            r["payload"]["task_id"],
            r["payload"]["try_number"],
            tuple(r["payload"]["recipients"]),
        )  # type: ignore[index]
        for r in rows(engine)
    )


def test_the_relay_derives_exactly_the_alerts_of_a_failing_run_once(engine: Engine) -> None:
    relay = Relay(engine, ROUTING, ("email", "slack"), noise=QUIET)
    assert relay.run_once(NOW).entries == 0  # registers at the tail
    failing_run(engine)

    done = relay.run_until_caught_up(NOW)
    assert done.added == 5 and done.duplicates == 0
    assert summary(engine) == [
        ("run_failed", "slack", None, None, ()),
        ("task_failed", "email", "load", 2, ("bob@work.com",)),
        ("task_failed", "slack", "load", 2, ()),
        ("task_failed", "slack", "quiet", 1, ()),
        ("task_retry", "email", "load", 1, ("bob@work.com",)),
    ]
    assert all(r["state"] == "pending" and r["attempts"] == 0 for r in rows(engine))

    again = relay.run_once(NOW)
    assert again.entries == 0 and len(rows(engine)) == 5
    with begin_read(engine) as conn:
        assert journal.consumer_cursors(conn)[CONSUMER] == journal.tail(conn)


def test_relaying_the_same_entries_again_adds_nothing(engine: Engine) -> None:
    Relay(engine, ROUTING, ("email", "slack"), noise=QUIET).run_once(NOW)
    failing_run(engine)
    Relay(engine, ROUTING, ("email", "slack"), noise=QUIET).run_until_caught_up(NOW)
    before = rows(engine)
    with begin_write(engine) as conn:  # as if the cursor's advance had been lost
        conn.execute(
            update(journal_consumer).where(journal_consumer.c.name == CONSUMER).values(last_read_id=0)
        )
    redo = Relay(engine, ROUTING, ("email", "slack"), noise=QUIET).run_until_caught_up(NOW)
    assert redo.added == 0 and redo.duplicates == len(before)
    assert rows(engine) == before


def test_silenced_alerts_are_recorded_not_sent(engine: Engine) -> None:
    relay = Relay(engine, ROUTING, ("email", "slack"), noise=QUIET)
    relay.run_once(NOW)
    with begin_write(engine) as conn:
        add_silence(
            conn, "etl", task_id="quiet", until=NOW.add(hours=2), reason="known", created_by="me", now=NOW
        )
    failing_run(engine)
    done = relay.run_until_caught_up(NOW)
    assert (done.added, done.silenced) == (4, 1)
    [quiet] = [r for r in rows(engine) if r["payload"]["task_id"] == "quiet"]  # type: ignore[index]
    assert (
        quiet["state"] == "silenced" and "known" in str(quiet["note"]) and "silence 1" in str(quiet["note"])
    )


def test_a_dispatcher_tick_relays_and_delivers_a_real_runs_alerts_once(engine: Engine) -> None:
    email, slack = Recording("email"), Recording("slack")
    d = AlertDispatcher(
        engine, {"email": email, "slack": slack}, routing=ROUTING, clock=FakeClock(NOW), noise=QUIET
    )
    d.run_tick()  # registers the consumer at the tail
    failing_run(engine)
    done = d.run_tick()
    # five alerts, four messages: Slack's two task failures of the run go out as one
    assert (done.relayed.added, done.sent) == (5, 4)
    assert d.run_tick().claimed == 0
    assert sorted(k.split("|")[0] for k in email.received) == ["task_failed", "task_retry"]
    assert set(email.received.values()) == {1} and set(slack.received.values()) == {1}
    assert sorted(k.split("|")[0] for k in slack.received) == ["run_failed", "task_failed"]
    assert all(r["state"] == "sent" for r in rows(engine))
