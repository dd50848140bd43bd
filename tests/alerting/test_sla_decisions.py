"""The pure SLA rules, the alerts a miss makes, and how they read: fake times, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from windvane.alerting.alert import AlertKind, human
from windvane.alerting.channels.slack_blocks import build_message
from windvane.alerting.channels.templates import AlertTemplates
from windvane.alerting.payload import from_payload, to_payload
from windvane.alerting.sla.alerts import recipients_for, routing_for, sla_alerts
from windvane.alerting.sla.decisions import (
    BlockingTi,
    SlaMiss,
    checked,
    finished_late,
    run_missed,
    task_list,
    task_missed,
)
from windvane.alerting.sla.store import MissRow
from windvane.core.model.serialized_dag import SerializedDag, TaskSpec

DUE = datetime(2024, 3, 1, 12, tzinfo=UTC)
BEFORE, AFTER = DUE - timedelta(seconds=1), DUE + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("state", "end", "now", "missed"),
    [
        ("running", None, BEFORE, False),  # not due yet
        ("running", None, DUE, True),  # due now and still running: late while running
        ("queued", None, AFTER, True),
        ("none", None, AFTER, True),  # never started (waiting on upstream) is late too
        ("success", BEFORE, AFTER, False),
        ("success", DUE, AFTER, False),
        ("skipped", BEFORE, AFTER, False),  # skipped counts as success (Airflow)
        ("success", AFTER, AFTER, True),  # finished, but after its due time
        ("failed", BEFORE, AFTER, True),  # the SLA is about succeeding
        ("upstream_failed", BEFORE, AFTER, True),
        ("removed", None, AFTER, False),
    ],
)
def test_a_task_misses_when_it_has_not_succeeded_by_its_due_time(
    state: str, end: datetime | None, now: datetime, missed: bool
) -> None:
    assert task_missed(state, end, DUE, now) is missed


@pytest.mark.parametrize(
    ("state", "end", "now", "missed"),
    [
        ("running", None, BEFORE, False),
        ("running", None, DUE, True),
        ("queued", None, AFTER, True),
        ("success", BEFORE, AFTER, False),
        ("success", AFTER, AFTER, True),
        ("failed", BEFORE, AFTER, True),
    ],
)
def test_a_run_misses_its_deadline_unless_it_succeeded_by_then(
    state: str, end: datetime | None, now: datetime, missed: bool
) -> None:
    assert run_missed(state, end, DUE, now) is missed


@given(
    state=st.sampled_from(["none", "scheduled", "queued", "running", "success", "failed", "skipped"]),
    offset=st.integers(min_value=-(10**6), max_value=10**6),
)
def test_nothing_is_missed_before_its_due_time(state: str, offset: int) -> None:
    now = DUE + timedelta(seconds=offset)
    if now < DUE:
        assert not task_missed(state, None, DUE, now) and not run_missed(state, None, DUE, now)
    else:
        assert task_missed(state, None, DUE, now)  # no end date: not succeeded


def test_finished_late_and_checked_run_types() -> None:
    assert finished_late("success", AFTER) == AFTER and finished_late("skipped", AFTER) == AFTER
    assert finished_late("running", None) is None and finished_late("skipped", AFTER, run=True) is None
    assert checked("manual", check_backfill=False) and checked("scheduled", check_backfill=False)
    assert not checked("backfill", check_backfill=False) and checked("backfill", check_backfill=True)


def test_task_lists_are_airflows_lines() -> None:
    logical = datetime(2024, 3, 1, tzinfo=UTC)
    misses = [
        SlaMiss("load", "etl", "r1", logical, AFTER, DUE),
        SlaMiss("copy", "etl", "r1", logical, AFTER, DUE),
    ]
    assert task_list(misses) == "load on 2024-03-01T00:00:00+00:00\ncopy on 2024-03-01T00:00:00+00:00"
    blocking = BlockingTi("etl", "load", "r1", -1, "running", 1, logical)
    assert task_list([blocking]) == "load on 2024-03-01T00:00:00+00:00"
    assert misses[0].execution_date == logical and misses[0].late_by == timedelta(seconds=1)


def dag(**emails: tuple[str, ...]) -> SerializedDag:
    tasks = {
        tid: TaskSpec(task_id=tid, operator="BashOperator", upstream=(), downstream=(), email=addresses)
        for tid, addresses in emails.items()
    }
    return SerializedDag(
        dag_id="etl", fileloc="/dags/etl.py", timetable={}, timezone="UTC", tasks=tasks, tags=("t",)
    )


def miss(task_id: str = "load", state: str = "running") -> MissRow:
    kind = "task_sla" if task_id else "run_deadline"
    logical = datetime(2024, 3, 1, tzinfo=UTC)
    return MissRow(1, kind, "etl", "manual__x", 7, task_id, "manual", logical, DUE, AFTER, state, None, None)


def test_sla_email_goes_to_the_tasks_addresses_and_a_deadline_to_every_tasks() -> None:
    d = dag(load=("bob@work.com",), copy=("ann@work.com", "bob@work.com"), quiet=())
    assert recipients_for("load", d) == ("bob@work.com",)
    assert recipients_for("", d) == ("bob@work.com", "ann@work.com")
    assert recipients_for("quiet", d) == () and recipients_for("load", None) == ()


def test_a_miss_makes_one_alert_per_available_channel_and_no_email_without_an_address() -> None:
    routing = routing_for(("email", "slack", "webhook"))
    d = dag(load=("bob@work.com",), quiet=())
    routed = sla_alerts(AlertKind.SLA_MISS, miss(), d, routing, {"email", "slack"}, occurred_at=AFTER)
    assert [r.channel for r in routed] == ["email", "slack"]
    email = routed[0].alert
    assert email.recipients == ("bob@work.com",) and email.due_at == DUE and email.task_id == "load"
    assert email.dedupe_key == "sla_miss|etl|load|manual__x||email"
    quiet = sla_alerts(AlertKind.SLA_MISS, miss("quiet"), d, routing, {"email", "slack"}, occurred_at=AFTER)
    assert [r.channel for r in quiet] == ["slack"]
    back = sla_alerts(AlertKind.RECOVERED, miss(), d, routing, {"slack"}, occurred_at=AFTER)
    assert (
        back[0].alert.state == "success" and back[0].alert.dedupe_key == "recovered|etl|load|manual__x||slack"
    )


def test_the_sla_email_says_which_task_which_run_due_at_and_late_by() -> None:
    d = dag(load=("bob@work.com",))
    late = DUE + timedelta(minutes=3, seconds=4)
    [routed] = sla_alerts(AlertKind.SLA_MISS, miss(), d, routing_for(("email",)), {"email"}, occurred_at=late)
    alert = from_payload(to_payload(routed.alert))  # through the outbox's JSON
    assert alert == routed.alert
    mail = AlertTemplates().render(alert)
    assert mail.subject == "[windvane] SLA missed: etl.load in run manual__x"
    assert "Due at: 2024-03-01T12:00:00+00:00" in mail.text and "Late by: 3m 4s" in mail.text
    assert "Late by</th><td>3m 4s" in mail.html
    [back] = sla_alerts(AlertKind.RECOVERED, miss(), d, routing_for(("email",)), {"email"}, occurred_at=late)
    assert AlertTemplates().render(back.alert).subject == (
        "[windvane] recovered, late by 3m 4s: etl.load in run manual__x"
    )
    [run] = sla_alerts(AlertKind.SLA_MISS, miss(""), d, routing_for(("email",)), {"email"}, occurred_at=late)
    assert (
        AlertTemplates().render(run.alert).subject == "[windvane] run deadline missed: etl in run manual__x"
    )
    blocks = build_message(alert)["blocks"]
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    assert "*Due at*\n2024-03-01T12:00:00+00:00" in fields and "*Late by*\n3m 4s" in fields


def test_human_durations() -> None:
    assert [human(timedelta(seconds=s)) for s in (0, 5, 65, 3600, 3725)] == [
        "0s",
        "5s",
        "1m 5s",
        "1h",
        "1h 2m 5s",
    ]


def test_other_alerts_keep_their_payload_shape() -> None:
    from tests.alerting.alerts import make_alert

    assert "due_at" not in to_payload(make_alert()) and make_alert().late_by is None
