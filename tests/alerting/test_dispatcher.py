"""Delivery: sent once, retried with backoff, dead when hopeless; claims, outages and stopping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

import pendulum
import pytest
from sqlalchemy import Engine

from windvane.alerting import outbox
from windvane.alerting.backoff import Backoff
from windvane.alerting.channels.base import Channel
from windvane.alerting.dispatcher import AlertDispatcher, DispatchConfig
from windvane.core.model.clock import FakeClock
from windvane.core.store import journal
from windvane.core.store._time import from_db
from windvane.core.store.engine import begin_read, begin_write
from windvane.metrics import RecordingSink
from windvane.metrics.catalogue_alerting import ALERTS_DEAD, ALERTS_FAILED, ALERTS_OUTBOX_PENDING, ALERTS_SENT
from windvane.testing import wait_for

from .fakes import NOW, Down, Flaky, Hanging, Recording, alert, rows

CONFIG = DispatchConfig(backoff=Backoff(base=10.0, cap=80.0), max_age=3600.0, claim_seconds=120.0)


def queue(engine: Engine, *alerts_and_channels: tuple[int, str]) -> None:
    with begin_write(engine) as conn:
        for n, channel in alerts_and_channels:
            outbox.add(conn, alert(n, channel=channel), channel, now=NOW)


def dispatcher(
    engine: Engine,
    channels: Mapping[str, Channel],
    clock: FakeClock,
    *,
    config: DispatchConfig = CONFIG,
    metrics: RecordingSink | None = None,
    owner: str = "d1",
) -> AlertDispatcher:
    return AlertDispatcher(
        engine, channels, config=config, clock=clock, metrics=metrics, owner=owner, draw=lambda: 1.0
    )


def test_due_alerts_are_sent_once_and_counted(engine: Engine) -> None:
    slack, email = Recording("slack"), Recording("email")
    queue(engine, (1, "slack"), (2, "slack"), (1, "email"))
    sink = RecordingSink()
    d = dispatcher(engine, {"slack": slack, "email": email}, FakeClock(NOW), metrics=sink)
    assert d.run_tick().sent == 3
    assert d.run_tick().claimed == 0
    assert set(slack.received.values()) == {1} and len(slack.received) == 2 and len(email.received) == 1
    assert all(r["state"] == "sent" and r["attempts"] == 1 and r["claimed_by"] is None for r in rows(engine))
    assert sink.total(ALERTS_SENT, channel="slack") == 2 and sink.total(ALERTS_SENT, channel="email") == 1
    assert sink.last(ALERTS_OUTBOX_PENDING) == 0


def test_failures_back_off_exponentially_with_full_jitter_then_deliver(engine: Engine) -> None:
    clock = FakeClock(NOW)
    flaky = Flaky("slack", failures=4)
    sink = RecordingSink()
    d = dispatcher(engine, {"slack": flaky}, clock, metrics=sink)
    queue(engine, (1, "slack"))
    waits = []
    for _ in range(4):
        assert d.run_tick().retried == 1
        [row] = rows(engine)
        due = from_db(row["next_attempt_at"])  # type: ignore[arg-type]
        assert due is not None
        waits.append((due - clock.now()).total_seconds())
        assert d.run_tick().claimed == 0  # not due yet
        clock.set(pendulum.instance(due))
    assert waits == [10.0, 20.0, 40.0, 80.0]  # draw() = 1.0: the ceiling; capped at 80
    assert d.run_tick().sent == 1 and flaky.received[alert(1).dedupe_key] == 1
    [row] = rows(engine)
    assert row["attempts"] == 5 and "HTTP 500" in str(row["last_error"])
    assert sink.total(ALERTS_FAILED, channel="slack") == 4


def test_full_jitter_draws_below_the_ceiling() -> None:
    backoff = Backoff(base=2.0, cap=30.0)
    assert [backoff.ceiling(n) for n in (1, 2, 3, 4, 5, 6, 100)] == [2, 4, 8, 16, 30, 30, 30]
    assert backoff.delay(3, draw=lambda: 0.25) == 2.0
    assert backoff.delay(3, draw=lambda: 0.0) == 0.0
    assert backoff.delay(3, retry_after=7.5, draw=lambda: 0.25) == 7.5  # the far end asked for longer
    assert backoff.delay(3, retry_after=1.0, draw=lambda: 0.5) == 4.0  # ours is later


def test_retry_after_is_honoured_when_later_than_the_backoff(engine: Engine) -> None:
    clock = FakeClock(NOW)
    d = dispatcher(engine, {"slack": Flaky("slack", failures=1, retry_after=600.0)}, clock)
    queue(engine, (1, "slack"))
    d.run_tick()
    [row] = rows(engine)
    assert from_db(row["next_attempt_at"]) == NOW.add(seconds=600)  # type: ignore[arg-type]
    clock.advance(599)
    assert d.run_tick().claimed == 0
    clock.advance(1)
    assert d.run_tick().sent == 1


def test_a_permanent_failure_is_dead_at_once_and_logged_loudly(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    sink = RecordingSink()
    d = dispatcher(engine, {"slack": Flaky("slack", permanent=True)}, FakeClock(NOW), metrics=sink)
    queue(engine, (1, "slack"), (2, "slack"))
    with begin_write(engine) as conn:
        assert outbox.pending_count(conn) == 2
    with caplog.at_level(logging.ERROR, "windvane.alerting"):
        assert d.run_tick().dead == 2
    assert sink.total(ALERTS_DEAD, channel="slack") == 2 and sink.last(ALERTS_OUTBOX_PENDING) == 0
    row = rows(engine)[0]
    assert row["state"] == "dead" and row["attempts"] == 1 and "HTTP 500" in str(row["last_error"])
    assert "ALERT LOST" in caplog.text and "a permanent failure" in caplog.text and "HTTP 500" in caplog.text
    assert d.run_tick().claimed == 0


def test_an_alert_failing_for_max_age_is_dead(engine: Engine) -> None:
    clock = FakeClock(NOW)
    config = DispatchConfig(backoff=Backoff(base=100.0, cap=1000.0), max_age=250.0)
    d = dispatcher(engine, {"slack": Flaky("slack")}, clock, config=config)
    queue(engine, (1, "slack"))
    d.run_tick()  # wait 100
    clock.advance(100)
    d.run_tick()  # wait 200, cut to the max age: due at 250
    [row] = rows(engine)
    assert from_db(row["next_attempt_at"]) == NOW.add(seconds=250)  # type: ignore[arg-type]
    clock.advance(150)
    assert d.run_tick().dead == 1
    assert rows(engine)[0]["state"] == "dead" and rows(engine)[0]["attempts"] == 3


def test_an_outage_then_recovery_delivers_every_alert_exactly_once(engine: Engine) -> None:
    clock = FakeClock(NOW)
    email, slack = Down("email"), Flaky("slack", failures=7, retry_after=30.0)
    d = dispatcher(engine, {"email": email, "slack": slack}, clock)
    alerts = [(n, channel) for n in range(10) for channel in ("email", "slack")]
    queue(engine, *alerts)
    for tick in range(60):  # ten minutes of ticks, ten seconds apart; email comes back after five
        email.down = tick < 30
        d.run_tick()
        clock.advance(10)
    assert email.calls > 10 and slack.calls > 10  # both were really down for a while
    for _ in range(20):  # let the last backoffs run out
        clock.advance(80)
        d.run_tick()
    assert sorted(email.received.values()) == [1] * 10 and sorted(slack.received.values()) == [1] * 10
    with begin_read(engine) as conn:
        assert outbox.counts(conn) == {"pending": 0, "sent": 20, "dead": 0} | dict.fromkeys(
            ("silenced", "suppressed", "superseded"), 0
        )


def test_a_claim_left_by_a_killed_dispatcher_is_delivered_once_it_runs_out(engine: Engine) -> None:
    clock = FakeClock(NOW)
    queue(engine, (1, "slack"))
    with begin_write(engine) as conn:  # the dead dispatcher claimed it, then was killed mid-send
        [claimed] = outbox.claim_due(
            conn, owner="killed", now=NOW, until=NOW.add(seconds=120), channels=["slack"], limit=10
        )
    slack = Recording("slack")
    d = dispatcher(engine, {"slack": slack}, clock)
    assert d.run_tick().claimed == 0  # still claimed
    clock.advance(120)
    assert d.run_tick().sent == 1
    assert slack.received == {claimed.dedupe_key: 1}
    [row] = rows(engine)
    assert row["state"] == "sent" and row["attempts"] == 2


def test_sends_run_concurrently_up_to_the_limit(engine: Engine) -> None:
    class Slow(Recording):
        def __init__(self) -> None:
            super().__init__("slack")
            self.now, self.most = 0, 0

        async def send(self, a: object) -> None:
            import asyncio

            self.now += 1
            self.most = max(self.most, self.now)
            await asyncio.sleep(0.01)
            self.now -= 1

    slow = Slow()
    config = DispatchConfig(concurrency=3)
    queue(engine, *[(n, "slack") for n in range(10)])
    assert dispatcher(engine, {"slack": slow}, FakeClock(NOW), config=config).run_tick().sent == 10
    assert slow.most == 3


def test_a_slow_channel_times_out_as_a_failure(engine: Engine) -> None:
    config = DispatchConfig(send_timeout=0.05)
    queue(engine, (1, "slack"))
    d = dispatcher(engine, {"slack": Hanging("slack")}, FakeClock(NOW), config=config)
    assert d.run_tick().retried == 1
    assert "timed out" in str(rows(engine)[0]["last_error"])


def test_the_service_delivers_and_stops_promptly_even_while_a_channel_hangs(engine: Engine) -> None:
    hanging, fine = Hanging("slack"), Recording("email")
    queue(engine, (1, "slack"), (2, "email"))
    config = DispatchConfig(poll_interval=0.05, stop_grace=0.2)
    d = AlertDispatcher(engine, {"slack": hanging, "email": fine}, config=config, owner="svc")
    started = time.monotonic()
    d.start()
    assert time.monotonic() - started < 1.0
    wait_for(lambda: hanging.entered.is_set() and len(fine.received) == 1, timeout=10, what="the sends")
    started = time.monotonic()
    d.stop()
    assert time.monotonic() - started < 3.0
    d.stop()  # again: nothing
    slack_row = next(r for r in rows(engine) if r["channel"] == "slack")
    assert slack_row["state"] == "pending" and slack_row["claimed_by"] is None  # released for the next one


@pytest.mark.postgres
def test_two_dispatchers_on_postgres_never_send_one_alert_twice(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several dispatchers at once need PostgreSQL (SQLite has one writer)")
    queue(engine, *[(n, "slack") for n in range(200)])
    slack = Recording("slack")
    config = DispatchConfig(batch_size=7, concurrency=2)
    workers = [
        dispatcher(engine, {"slack": slack}, FakeClock(NOW), config=config, owner=f"d{i}") for i in range(4)
    ]

    def drain(d: AlertDispatcher) -> None:
        while d.run_tick().claimed:
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(slack.received) == 200 and set(slack.received.values()) == {1}
    with begin_read(engine) as conn:
        assert outbox.counts(conn)["sent"] == 200


def test_old_sent_and_dead_rows_are_pruned_pending_ones_never(engine: Engine) -> None:
    clock = FakeClock(NOW)
    config = DispatchConfig(retention=3600.0)
    queue(engine, (1, "slack"), (2, "email"), (3, "webhook"))
    channels = {
        "slack": Recording("slack"),
        "email": Flaky("email", permanent=True),
        "webhook": Flaky("webhook"),
    }
    d = dispatcher(engine, channels, clock, config=config)
    d.run_tick()
    assert sorted(str(r["state"]) for r in rows(engine)) == ["dead", "pending", "sent"]
    clock.advance(3601)
    d.run_tick()
    assert [r["state"] for r in rows(engine)] == ["pending"]


def test_start_registers_the_journal_consumer_before_it_returns(engine: Engine) -> None:
    # Services start before the scheduler loop: a try failing while the dispatcher's thread is
    # still starting must not fall behind the cursor its first registration sets (regression).
    d = dispatcher(engine, {"email": Recording("email")}, FakeClock(NOW))
    d._run = lambda: None  # type: ignore[method-assign]  # its thread never ticks
    d._ready.wait = lambda timeout=None: True  # type: ignore[method-assign]
    d.start()
    try:
        with begin_read(engine) as conn:
            assert "alerting" in journal.consumer_cursors(conn)
    finally:
        d.stop()


def test_a_row_that_fell_due_after_the_claim_looked_is_not_left_for_a_poll_interval(engine: Engine) -> None:
    """Regression: the next-due read skipped rows due already, so a row falling due between a tick's
    claim and that read waited out the whole poll interval (an hour in the journal-check test)."""
    slack = Recording("slack")
    clock = FakeClock(NOW)
    config = DispatchConfig(poll_interval=3600.0)
    d = dispatcher(engine, {"slack": slack}, clock, config=config)
    with begin_write(engine) as conn:
        outbox.insert(conn, alert(1), "slack", now=NOW, due=NOW.add(seconds=1))
    assert d.run_tick().claimed == 0  # not due yet at the claim
    clock.advance(2.0)  # ... but due by the time the dispatcher decides how long to wait
    assert d._until_next_due() <= 0.05
    assert d.run_tick().sent == 1
