"""Routing and derivation: which journal entries become which alerts, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from windvane.alerting.alert import AlertKind
from windvane.alerting.routing import Routing, dedupe_key, derive, kind_of
from windvane.alerting.silences import Silence, silenced
from windvane.core.interfaces import JournalEntry, JournalKind, SerializedDag, TaskInstanceKey
from windvane.core.model.serialized_dag import TaskSpec

AT = datetime(2024, 3, 10, 12, tzinfo=UTC)
ALL = ("email", "slack", "webhook")


def entry(
    state: str, *, kind: JournalKind = JournalKind.TRY_FINISHED, task: str | None = "t"
) -> JournalEntry:
    key = TaskInstanceKey(7, 3, "d", "r1", task) if task else None
    return JournalEntry(1, AT, kind, state, "d", "r1", 3, key=key, try_number=2, max_tries=3, error="boom")


def dag(**task: object) -> SerializedDag:
    spec = TaskSpec(task_id="t", operator="X", upstream=(), downstream=(), **task)  # type: ignore[arg-type]
    return SerializedDag(
        dag_id="d", fileloc="/d.py", timetable={}, timezone="UTC", tasks={"t": spec}, tags=("etl",)
    )


def test_kinds_follow_airflow() -> None:
    assert kind_of(entry("failed")) is AlertKind.TASK_FAILED
    assert kind_of(entry("up_for_retry")) is AlertKind.TASK_RETRY
    for quiet in ("success", "skipped", "upstream_failed"):
        assert kind_of(entry(quiet)) is None
    assert kind_of(entry("failed", kind=JournalKind.RUN_FINISHED, task=None)) is AlertKind.RUN_FAILED
    assert kind_of(entry("success", kind=JournalKind.RUN_FINISHED, task=None)) is None
    assert kind_of(entry("failed", kind=JournalKind.CLEARED)) is None


def test_email_goes_to_the_tasks_addresses_only_when_asked() -> None:
    routing = Routing()
    [failed] = derive(entry("failed"), dag(email=("bob@work.com",)), routing, ALL)
    assert failed.channel == "email" and failed.alert.recipients == ("bob@work.com",)
    assert failed.alert.dedupe_key == "task_failed|d|t|r1|2|email"
    assert (failed.alert.try_number, failed.alert.max_tries, failed.alert.error) == (2, 3, "boom")
    assert derive(entry("failed"), dag(), routing, ALL) == []  # no email set
    assert derive(entry("failed"), dag(email=("b@w",), email_on_failure=False), routing, ALL) == []
    assert derive(entry("up_for_retry"), dag(email=("b@w",), email_on_retry=False), routing, ALL) == []
    assert derive(entry("failed"), None, routing, ALL) == []  # DAG unknown: nobody to email
    assert derive(entry("failed"), dag(email=("b@w",)), routing, ("slack",)) == []  # email not configured


def test_other_channels_by_kind_dag_and_tag() -> None:
    routing = Routing(
        by_kind=((AlertKind.TASK_FAILED, ("email", "slack")), (AlertKind.RUN_FAILED, ("slack",))),
        by_dag=(("d", ("webhook",)),),
        by_tag=(("etl", ("slack", "webhook")),),
    )
    assert routing.channels(AlertKind.TASK_FAILED, "d", ("etl",)) == ("email", "slack", "webhook")
    assert routing.channels(AlertKind.TASK_RETRY, "other") == ()
    routed = derive(entry("failed"), dag(), routing, ALL)
    assert [r.channel for r in routed] == ["slack", "webhook"]
    assert routed[0].alert.recipients == ()
    [run] = derive(entry("failed", kind=JournalKind.RUN_FINISHED, task=None), None, routing, ("slack",))
    assert (run.alert.kind, run.alert.task_id, run.alert.dedupe_key) == (
        AlertKind.RUN_FAILED,
        None,
        "run_failed|d||r1|2|slack",
    )


def test_dedupe_keys_differ_by_kind_try_map_index_and_channel() -> None:
    base = entry("failed")
    keys = {
        dedupe_key(AlertKind.TASK_FAILED, base, "email"),
        dedupe_key(AlertKind.TASK_RETRY, base, "email"),
        dedupe_key(AlertKind.TASK_FAILED, base, "slack"),
        dedupe_key(
            AlertKind.TASK_FAILED,
            JournalEntry(2, AT, JournalKind.TRY_FINISHED, "failed", "d", "r1", 3, key=base.key, try_number=3),
            "email",
        ),
        dedupe_key(
            AlertKind.TASK_FAILED,
            JournalEntry(
                3,
                AT,
                JournalKind.TRY_FINISHED,
                "failed",
                "d",
                "r1",
                3,
                key=TaskInstanceKey(8, 3, "d", "r1", "t", 0),
                try_number=2,
            ),
            "email",
        ),
    }
    assert len(keys) == 5


def test_silences_match_dag_or_task_until_they_expire() -> None:
    later = datetime(2024, 3, 10, 14, tzinfo=UTC)
    dag_wide, one_task = Silence("d", None, later), Silence("d", "t", later)
    assert silenced([dag_wide], "d", None, now=AT) and silenced([dag_wide], "d", "t", now=AT)
    assert silenced([one_task], "d", "t", now=AT)
    assert not silenced([one_task], "d", None, now=AT) and not silenced([one_task], "d", "u", now=AT)
    assert not silenced([dag_wide], "e", "t", now=AT)
    assert not silenced([dag_wide], "d", "t", now=later)


def test_a_run_failure_email_goes_to_every_task_address_and_is_left_out_without_one() -> None:
    routing = Routing(by_kind=((AlertKind.RUN_FAILED, ("email", "slack")),))
    run_failed = entry("failed", kind=JournalKind.RUN_FINISHED, task=None)
    with_addresses = derive(run_failed, dag(email=("bob@work.com", "ann@work.com")), routing, ALL)
    assert [(r.channel, r.alert.recipients) for r in with_addresses] == [
        ("email", ("bob@work.com", "ann@work.com")),
        ("slack", ()),
    ]
    without = derive(run_failed, dag(), routing, ALL)
    assert [r.channel for r in without] == ["slack"]


def test_sla_alerts_follow_the_configured_routes() -> None:
    from windvane.alerting.service import routing_from
    from windvane.settings import AlertingSettings
    from windvane.settings._kinds import AlertRoute

    settings = AlertingSettings(
        sla_miss_channels=("email",),
        routes=(AlertRoute(channels=("slack",), dags=("d*",), kinds=("sla_miss",)),),
    )
    routing = routing_from(settings)
    assert routing.channels(AlertKind.SLA_MISS, "daily") == ("slack",)
    assert routing.channels(AlertKind.SLA_MISS, "other") == ("email",)
    assert routing.channels(AlertKind.RECOVERED, "daily") == ("email",)
