"""Through ``windvane standalone`` (the real CLI process, scheduler, LocalExecutor workers, dispatcher):
an SMTP outage and a Slack answering 429 then 500 lose no alert and duplicate none; a kill -9
mid-send repeats only the sends in flight.

The outage is made short by configuration (backoff of a fraction of a second, Slack's Retry-After
of 1 s), not by sleeping: every wait is a deadline loop on what the servers or the outbox show.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from .conftest import Sink, free_port
from .fake_slack import FakeSlack, Reply, ratelimited
from .standalone import ALERTS, RUN_ALERTS, Home

PACING = {
    "enabled": True,
    "poll_interval_seconds": 0.1,
    "backoff_base_seconds": 0.2,
    "backoff_max_seconds": 0.5,
    "max_age_seconds": 600.0,
    "task_failure_channels": ["email", "slack"],
    "task_retry_channels": ["email", "slack"],
    "run_failure_channels": ["slack"],
    # each alert its own message, so that messages can be counted per alert (grouping and a run
    # alert replacing its task alerts have tests of their own)
    "group_wait_seconds": 0.0,
    "run_alert_replaces_task_alerts": False,
}
SLACK_FAILURES = [ratelimited(1), ratelimited(1)] + [Reply(500, "internal_error")] * 4


def until(condition: Callable[[], bool], home: Home, what: str, timeout: float = 60.0) -> None:
    """Wait for ``condition``, failing with the process's output if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert home.alive(), f"standalone exited while waiting for {what}\n{home.output()}"
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}\n{home.output()}"
        time.sleep(0.05)


def subject(kind: str, task: str, try_number: int) -> str:
    return f"{kind.replace('_', ' ')}: {task} (try {try_number} of"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.mark.slow
def test_an_smtp_outage_and_slack_429_then_500_deliver_every_alert_once_per_channel(
    tmp_path: Path, slack: FakeSlack
) -> None:
    sink, port = Sink(), free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=port)
    smtp.start()
    smtp.stop()  # the outage: connections to the SMTP port are refused from here on
    slack.script(*SLACK_FAILURES)
    home = Home(
        tmp_path / "home",
        {
            "alerting": PACING,
            "smtp": {"host": "127.0.0.1", "port": port, "mail_from": "windvane@ci", "timeout_seconds": 2.0},
            "slack": {"webhook_url": slack.webhook_url, "timeout_seconds": 2.0},
        },
    )
    home.start()
    try:

        def outage_felt() -> bool:
            rows = home.outbox()
            email = [r for r in rows if r["channel"] == "email"]
            return (
                len(rows) == 8
                and len(email) == 3
                and all(r["attempts"] >= 3 and r["state"] == "pending" for r in email)
                and len(slack.requests) > len(SLACK_FAILURES)
            )

        until(outage_felt, home, "every alert to be tried during the outage")
        down = [r for r in home.outbox() if r["channel"] == "email"]
        assert all("127.0.0.1" in str(r["last_error"]) for r in down)  # the refused connection, named
        smtp = Controller(sink, hostname="127.0.0.1", port=port)  # SMTP is back
        smtp.start()
        try:
            until(lambda: {r["state"] for r in home.outbox()} == {"sent"}, home, "every alert to be sent")
        finally:
            smtp.stop()
        assert home.run_states() == {"outage": "failed", "outage_b": "failed"}
        assert home.stop() == 0, home.output()
    finally:
        if home.alive():
            home.kill()

    subjects = Counter(str(m.message["Subject"]) for m in sink.received)
    assert len(sink.received) == 3 and set(subjects.values()) == {1}, subjects
    for kind, task, try_number in ALERTS:  # each alert exactly once, to the task's `email`
        [mail] = [m for m in sink.received if subject(kind, task, try_number) in str(m.message["Subject"])]
        assert mail.rcpt_tos == ["bob@work.com"]
    accepted = [r.json()["text"] for r in slack.requests[len(SLACK_FAILURES) :]]
    assert len(accepted) == 5 and len(set(accepted)) == 5, accepted  # 3 task alerts + 2 runs', once each
    for kind, task, try_number in ALERTS:
        assert sum(subject(kind, task, try_number) in text for text in accepted) == 1
    for run_alert in RUN_ALERTS:
        assert sum(run_alert in text for text in accepted) == 1
    rows = home.outbox()
    assert [r["state"] for r in rows] == ["sent"] * 8  # none dead
    slack_rows = [r for r in rows if r["channel"] == "slack"]
    assert sum(r["attempts"] for r in slack_rows) == len(slack.requests)  # one request per attempt


@pytest.mark.slow
def test_standalone_killed_mid_send_repeats_only_the_sends_in_flight(
    tmp_path: Path, slack: FakeSlack
) -> None:
    slack.script(*[Reply(200, "ok", delay=60.0)] * 20)  # Slack holds every request: sends stay in flight
    home = Home(
        tmp_path / "home",
        {
            "alerting": {**PACING, "send_timeout_seconds": 3.0, "claim_seconds": 6.0},
            "slack": {"webhook_url": slack.webhook_url, "timeout_seconds": 30.0},
        },
    )
    home.start()
    try:
        until(lambda: len(slack.requests) >= 1, home, "a send in flight")
        home.kill()  # kill -9 mid-send
        in_flight = Counter(r.json()["text"] for r in slack.requests)
        slack.clear_script()  # Slack answers at once from now on
        home.start()
        until(
            lambda: len(rows := home.outbox()) == 5 and {r["state"] for r in rows} == {"sent"},
            home,
            "every alert to be sent after the restart",
        )
        assert home.stop() == 0, home.output()
    finally:
        if home.alive():
            home.kill()

    posts = Counter(r.json()["text"] for r in slack.requests)
    assert len(posts) == 5  # 3 task alerts + 2 runs': none lost
    # At least once: a send in flight at the kill is made again (once) after its claim runs out;
    # every other alert is posted exactly once.
    assert posts == Counter(posts.keys()) + in_flight, (posts, in_flight)
    rows: list[dict[str, Any]] = home.outbox()
    assert all(r["attempts"] in (1, 2) for r in rows)  # one claim by the killed process at most
