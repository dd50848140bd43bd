"""With ``journal_check`` the dispatcher sends a new failure's alert without waiting out its poll interval."""

from __future__ import annotations

from sqlalchemy import Engine

from windvane.alerting.dispatcher import AlertDispatcher, DispatchConfig
from windvane.testing import wait_for

from .fakes import Recording
from .test_two_dispatchers import ROUTING, TASKS, failing_run


def test_new_journal_rows_are_relayed_and_sent_before_the_poll_interval_ends(engine: Engine) -> None:
    email, slack = Recording("email"), Recording("slack")
    config = DispatchConfig(poll_interval=3600.0, journal_check=0.02)  # polling alone: an hour
    d = AlertDispatcher(engine, {"email": email, "slack": slack}, routing=ROUTING, config=config)
    d.start()  # its first tick finds nothing; the next would be an hour later
    try:
        wait_for(lambda: d.relay.behind() is False, timeout=30, what="the first tick")
        failing_run(engine)
        wait_for(
            lambda: len(email.received) == TASKS and len(slack.received) == TASKS + 1,
            timeout=30,
            what="the alerts, sent on the journal check",
        )
    finally:
        d.stop()
    assert set(email.received.values()) == {1} and d.relay.behind() is False
