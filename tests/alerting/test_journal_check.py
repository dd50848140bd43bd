"""The dispatcher does not wait out its poll interval: new journal rows (``journal_check``) and rows
held back until later (``group_wait``) are sent when they can be."""

from __future__ import annotations

from sqlalchemy import Engine

from windvane.alerting import outbox
from windvane.alerting.dispatcher import AlertDispatcher, DispatchConfig
from windvane.alerting.noise import NoiseConfig
from windvane.core.store.engine import begin_read
from windvane.testing import wait_for

from .fakes import Recording
from .test_two_dispatchers import ROUTING, TASKS, failing_run

AN_HOUR = 3600.0  # polling alone would send nothing within the tests' deadlines


def pending(engine: Engine) -> int:
    with begin_read(engine) as conn:
        return outbox.pending_count(conn)


def delivered(channel: Recording) -> int:
    """Alerts delivered: a grouped message carries several."""
    with channel.lock:
        return sum(max(alert.member_count, 1) for alert in channel.alerts)


def test_alerts_held_for_group_wait_are_sent_when_due_not_a_poll_interval_later(engine: Engine) -> None:
    """New journal rows wake the dispatcher (``journal_check``); the rows the relay holds for
    ``group_wait`` are sent when they fall due: with an hour's poll interval, nothing else would."""
    email, slack = Recording("email"), Recording("slack")
    config = DispatchConfig(poll_interval=AN_HOUR, journal_check=0.02)
    grouping = NoiseConfig(group_wait=0.5)
    d = AlertDispatcher(
        engine, {"email": email, "slack": slack}, routing=ROUTING, config=config, noise=grouping
    )
    d.start()
    try:
        wait_for(lambda: d.relay.behind() is False, timeout=30, what="the first tick")
        failing_run(engine)
        wait_for(
            lambda: d.relay.behind() is False and pending(engine) == 0, timeout=30, what="every row sent"
        )
    finally:
        d.stop()
    # grouped: fewer messages than alerts, each message once, every alert in one of them
    assert len(email.alerts) < TASKS and delivered(email) == TASKS
    assert set(email.received.values()) == {1} and set(slack.received.values()) == {1}
