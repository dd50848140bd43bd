"""Noise-control and routing decisions, pure: routes, severities, grouping keys, replacement, repeats,
links, composed groups, and the ``[[alerting.routes]]`` settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from windvane.alerting.alert import AlertKind, Severity
from windvane.alerting.links import Links
from windvane.alerting.noise import LISTED, NoiseConfig, compose, group_key, repeat_suppressed, replaceable
from windvane.alerting.routing import Route, Routing
from windvane.alerting.service import noise_from, routing_from, unconfigured
from windvane.core.interfaces import JournalEntry, JournalKind, TaskInstanceKey
from windvane.core.model.workload import Workload
from windvane.core.worker.runner import log_path_for
from windvane.errors import ConfigError
from windvane.settings import ALERT_KINDS, SEVERITIES, AlertRoute, load_settings

from .fakes import alert

AT = datetime(2024, 3, 10, 12, tzinfo=UTC)


def test_severities_are_airflow_ish_and_the_settings_know_every_kind() -> None:
    assert AlertKind.TASK_RETRY.severity is Severity.WARNING
    assert {AlertKind.TASK_FAILED.severity, AlertKind.RUN_FAILED.severity, AlertKind.SLA_MISS.severity} == {
        Severity.CRITICAL
    }
    assert AlertKind.RECOVERED.severity is Severity.INFO
    assert set(ALERT_KINDS) == {k.value for k in AlertKind} - {"test"}
    assert set(SEVERITIES) == {s.value for s in Severity}


def test_routes_walk_in_order_first_match_wins_unless_continue() -> None:
    routing = Routing(
        by_kind=((AlertKind.TASK_FAILED, ("email",)), (AlertKind.RUN_FAILED, ("email",))),
        routes=(
            Route(channels=("pager",), dags=("payments_*",), severities=(Severity.CRITICAL,)),
            Route(channels=("slack",), tags=("finance",), continue_=True),
            Route(channels=("webhook",), kinds=(AlertKind.RUN_FAILED,)),
        ),
    )
    # critical payments alerts page, and stop there
    assert routing.channels(AlertKind.TASK_FAILED, "payments_eu", ("finance",)) == ("pager",)
    # a retry is a warning: the finance route matches and continues to the run route (no match)
    assert routing.channels(AlertKind.TASK_RETRY, "payments_eu", ("finance",)) == ("slack",)
    assert routing.channels(AlertKind.RUN_FAILED, "ledger", ("finance",)) == ("slack", "webhook")
    # no route matched: the per-kind lists (the default route)
    assert routing.channels(AlertKind.TASK_FAILED, "etl", ()) == ("email",)
    assert routing.channels(AlertKind.TASK_RETRY, "etl", ()) == ()


@given(
    dag=st.text(alphabet="abc_", min_size=1, max_size=8),
    tags=st.frozensets(st.sampled_from(["x", "y", "z"])),
    kind=st.sampled_from(list(AlertKind)),
)
def test_an_empty_matcher_matches_everything_and_a_matching_route_is_never_skipped(
    dag: str, tags: frozenset[str], kind: AlertKind
) -> None:
    catch_all = Routing(routes=(Route(channels=("slack",)),))
    assert catch_all.channels(kind, dag, tags) == ("slack",)
    exact = Route(channels=("w",), dags=(dag,), tags=tuple(tags), kinds=(kind,), severities=(kind.severity,))
    assert exact.matches(kind, dag, tags) is bool(tags) or not tags
    assert Route(channels=("w",), dags=(dag + "?",)).matches(kind, dag, tags) is False


def test_group_keys_put_one_runs_task_alerts_of_one_kind_and_channel_together() -> None:
    a, b = alert(1), alert(2)
    assert group_key(a, "slack") == group_key(b, "slack") is not None
    assert group_key(a, "slack") != group_key(a, "webhook")
    assert group_key(a, "slack") != group_key(alert(1, kind=AlertKind.TASK_RETRY), "slack")
    assert group_key(alert(1, kind=AlertKind.RUN_FAILED), "slack") is None
    # email: only alerts to the same people share a message
    to_bob, to_ann = replace(a, recipients=("bob@w",)), replace(b, recipients=("ann@w",))
    assert group_key(to_bob, "email") != group_key(to_ann, "email")
    assert group_key(to_bob, "email") == group_key(replace(b, recipients=("bob@w",)), "email")
    long = replace(a, recipients=tuple(f"user{n}@example.com" for n in range(200)))
    key = group_key(long, "email")
    assert key is not None and len(key) <= 1000


def test_replacement_spares_email_and_can_be_turned_off() -> None:
    on, off = NoiseConfig(), NoiseConfig(replace_task_alerts=False)
    assert replaceable(alert(1), "slack", on) and replaceable(
        alert(1, kind=AlertKind.TASK_RETRY), "slack", on
    )
    assert not replaceable(alert(1), "email", on)  # the task's own addresses (Airflow's email_on_failure)
    assert not replaceable(alert(1), "slack", off)
    assert not replaceable(alert(1, kind=AlertKind.RUN_FAILED), "slack", on)


@given(
    events=st.lists(
        st.tuples(st.integers(min_value=0, max_value=10_000), st.sampled_from(["failed", "success"])),
        max_size=30,
    ),
    interval=st.sampled_from([0, 60, 600, 3600]),
)
def test_repeats_are_suppressed_within_the_interval_until_a_success(
    events: list[tuple[int, str]], interval: int
) -> None:
    """Replaying a DAG's run outcomes on a fake clock: in each streak of failures (runs between two
    successes) the first alerts; a later one alerts exactly when ``interval`` has passed since the
    streak's last alert (always, when the interval is 0)."""
    t, last = AT, None
    streak_alerts: list[datetime] = []
    for gap, outcome in events:
        t += timedelta(seconds=gap)
        if outcome == "success":
            last, streak_alerts = None, []
            continue
        first_in_streak = last is None
        suppressed = repeat_suppressed(last, t, interval)
        if first_in_streak or interval == 0:
            assert not suppressed
        if suppressed:
            assert streak_alerts and t - streak_alerts[-1] < timedelta(seconds=interval)
        else:
            assert not streak_alerts or t - streak_alerts[-1] >= timedelta(seconds=interval)
            last = t
            streak_alerts.append(t)


def test_a_repeat_decision_at_the_boundary() -> None:
    assert repeat_suppressed(AT, AT + timedelta(seconds=599), 600)
    assert not repeat_suppressed(AT, AT + timedelta(seconds=600), 600)
    assert not repeat_suppressed(None, AT, 600) and not repeat_suppressed(AT, AT, 0)


def test_compose_lists_the_first_members_and_counts_all() -> None:
    members = [alert(n) for n in range(50)]
    group = compose(members[0], members, 50)
    assert group.is_group and group.member_count == 50 and len(group.members) == LISTED
    assert group.members[0] == members[0] and group.dedupe_key == members[0].dedupe_key
    assert "x50" in group.subject and "task failed" in group.subject
    assert compose(members[0], members[:1], 1) == members[0]  # a group of one is the alert itself
    run = alert(0, kind=AlertKind.RUN_FAILED)
    replacing = compose(run, members[:3], 3)
    assert not replacing.is_group and replacing.member_count == 3 and "run failed" in replacing.subject


def test_links_follow_the_worker_log_layout_and_the_ui_paths() -> None:
    key = TaskInstanceKey(7, 3, "etl", "scheduled__2024-03-10T00:00:00+00:00", "load", 2)
    entry = JournalEntry(
        1, AT, JournalKind.TRY_FINISHED, "failed", "etl", key.run_id, 3, key=key, try_number=2
    )
    links = Links(log_folder="/logs", base_url="https://wv.example/")
    workload = Workload(key, 2, 2, 1, "/dags/etl.py", "manual", "2024-03-10", None, None)
    assert links.log_path(entry) == log_path_for("/logs", workload)
    assert links.link(entry) == (
        "https://wv.example/dags/etl/runs/scheduled__2024-03-10T00%3A00%3A00%2B00%3A00/tasks/load/mapped/2"
        "?try_number=2"
    )
    run = JournalEntry(2, AT, JournalKind.RUN_FINISHED, "failed", "etl", "r1", 3)
    assert links.log_path(run) is None and links.link(run) == "https://wv.example/dags/etl/runs/r1"
    assert Links().link(entry) is None and Links().log_path(entry) is None


def write(home: Path, text: str) -> None:
    (home / "windvane.toml").write_text(text, encoding="utf-8")


def test_routes_and_noise_settings_load_from_the_config_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
[alerting]
task_failure_channels = ["email"]
group_wait_seconds = 2.5
repeat_interval_seconds = 3600
run_alert_replaces_task_alerts = false

[[alerting.routes]]
dags = ["payments_*"]
severities = ["critical"]
channels = ["webhook"]
continue = true

[[alerting.routes]]
tags = ["finance"]
kinds = ["task_retry", "run_failed"]
channels = ["slack"]
""",
    )
    settings = load_settings(home=tmp_path, environ={})
    assert settings.alerting.routes == (
        AlertRoute(channels=("webhook",), dags=("payments_*",), severities=("critical",), continue_=True),
        AlertRoute(channels=("slack",), tags=("finance",), kinds=("task_retry", "run_failed")),
    )
    routing = routing_from(settings.alerting)
    assert routing.channels(AlertKind.RUN_FAILED, "payments_eu", ("finance",)) == ("webhook", "slack")
    assert routing.channels(AlertKind.TASK_FAILED, "etl") == ("email",)
    assert unconfigured(routing, ("email", "slack")) == ["webhook"]
    assert noise_from(settings.alerting) == NoiseConfig(2.5, False, 3600.0)
    [row] = [r for r in settings.as_rows() if r[1] == "routes"]
    assert "dags=payments_*" in row[2] and "continue=true" in row[2]


def test_routes_from_an_environment_variable_are_json(tmp_path: Path) -> None:
    env = {"WINDVANE__ALERTING__ROUTES": '[{"dags": ["etl"], "channels": ["slack"]}]'}
    assert load_settings(home=tmp_path, environ=env).alerting.routes == (
        AlertRoute(channels=("slack",), dags=("etl",)),
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('dag = ["x"]\nchannels = ["slack"]', "routes[1] has unknown key 'dag'"),
        ('kinds = ["task_fail"]\nchannels = ["slack"]', "routes[1].kinds: unknown 'task_fail'"),
        ('severities = ["high"]\nchannels = ["slack"]', "routes[1].severities: unknown 'high'"),
        ('dags = ["x"]', "routes[1].channels must name at least one channel"),
        ('channels = ["slack"]\ncontinue = "yes"', "routes[1].continue must be true or false"),
        ("channels = [1]", "routes[1].channels must be a list of non-empty strings"),
    ],
)
def test_a_bad_route_is_a_config_error_naming_it(tmp_path: Path, table: str, message: str) -> None:
    write(tmp_path, f'[[alerting.routes]]\nchannels = ["email"]\n\n[[alerting.routes]]\n{table}\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path, environ={})
    assert "'alerting.routes'" in str(caught.value) and message in str(caught.value)
    assert str(tmp_path / "windvane.toml") in str(caught.value)
