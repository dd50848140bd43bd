"""The SLA monitor against a real database on a fake clock: detection, recovery, deadlines, callbacks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine

from windvane.alerting import outbox
from windvane.alerting.silences import add_silence
from windvane.core.model.states import DagRunType
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import clear_task_instances
from windvane.metrics.catalogue_alerting import CALLBACK_DURATION, CALLBACK_FAILURES

from .conftest import SmtpServer
from .sla_world import DEADLINE, NOW, SLA, World


def test_a_running_task_misses_once_at_its_due_time_and_its_email_is_queued(
    engine: Engine, tmp_path: Path
) -> None:
    world = World(engine, tmp_path, callback="None")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "running")
    monitor = world.monitor()

    world.clock.advance(SLA.total_seconds() - 1)
    assert monitor.run_tick().recorded == 0 and world.misses() == []

    world.clock.advance(2)
    done = monitor.run_tick()
    assert (done.recorded, done.alerts) == (1, 1)
    [miss] = world.misses()
    assert (miss["kind"], miss["task_id"], miss["run_id"], miss["state"]) == (
        "task_sla",
        "slow",
        run_id,
        "running",
    )
    assert miss["recovered_at"] is None and miss["callback_done_at"] is not None  # no callback to run
    assert world.outbox() == [("sla_miss", "email", ("bob@work.com",))]
    assert world.missed_counts() == [{"dag_id": "late", "task_id": "slow"}]

    world.clock.advance(60)
    assert monitor.run_tick().recorded == 0
    assert world.monitor().run_tick().recorded == 0  # a restarted monitor repeats nothing
    assert len(world.misses()) == 1 and len(world.outbox()) == 1 and len(world.missed_counts()) == 1


@pytest.mark.parametrize("state", ["success", "skipped"])
def test_a_task_that_succeeded_in_time_never_misses(engine: Engine, tmp_path: Path, state: str) -> None:
    world = World(engine, tmp_path, callback="None")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", state, end=NOW.add(minutes=9))
    world.clock.advance(3600 * 3)
    assert world.monitor().run_tick().recorded == 1  # only the run deadline: the run is still queued
    assert [m["task_id"] for m in world.misses()] == [""]


def test_a_late_task_that_succeeds_sends_one_recovered_notice(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="None")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "running")
    monitor = world.monitor()
    world.clock.advance(SLA.total_seconds() + 5)
    monitor.run_tick()
    finished = NOW.add(minutes=12)
    world.set_ti(run_id, "slow", "success", end=finished)
    world.clock.advance(60)
    done = monitor.run_tick()
    assert (done.recovered, done.alerts) == (1, 1)
    [miss] = world.misses()
    assert miss["recovered_at"] is not None
    assert world.outbox() == [
        ("sla_miss", "email", ("bob@work.com",)),
        ("recovered", "email", ("bob@work.com",)),
    ]
    assert world.monitor().run_tick().recovered == 0  # once
    assert len(world.outbox()) == 2


def test_without_the_recovered_notice_the_recovery_is_still_recorded(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="None")
    run_id = world.trigger()
    world.clock.advance(SLA.total_seconds() + 5)
    monitor = world.monitor(recovered_notice=False)
    monitor.run_tick()
    world.set_ti(run_id, "slow", "success", end=world.clock.now())
    assert monitor.run_tick().recovered == 1
    assert world.misses()[0]["recovered_at"] is not None
    assert [kind for kind, _, _ in world.outbox()] == ["sla_miss"]


def test_a_late_finish_seen_afterwards_is_one_miss_already_recovered(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="None")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "success", end=NOW.add(minutes=11))  # the monitor was not running
    world.clock.advance(SLA.total_seconds() * 2)
    monitor = world.monitor()
    assert monitor.run_tick().recorded == 1
    [miss] = world.misses()
    assert miss["state"] == "success" and miss["recovered_at"] is not None
    monitor.run_tick()
    assert world.outbox() == [("sla_miss", "email", ("bob@work.com",))]  # no second notice


def test_a_run_that_has_not_succeeded_by_its_deadline_misses_it(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="None")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "success", end=NOW.add(minutes=1))
    world.set_run(run_id, "running")
    monitor = world.monitor()
    world.clock.advance(DEADLINE.total_seconds() + 1)
    assert monitor.run_tick().recorded == 1
    [miss] = world.misses()
    assert (miss["kind"], miss["task_id"], miss["run_id"]) == ("run_deadline", "", run_id)
    assert world.outbox() == [("sla_miss", "email", ("bob@work.com", "ann@work.com"))]  # every task's address
    assert world.missed_counts() == []  # the metric counts task SLA misses
    world.set_run(run_id, "success", end=world.clock.now())
    assert monitor.run_tick().recovered == 1
    assert [kind for kind, _, _ in world.outbox()] == ["sla_miss", "recovered"]


def test_a_run_that_succeeded_in_time_meets_its_deadline(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="None")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "success", end=NOW.add(minutes=1))
    world.set_run(run_id, "success", end=NOW.add(minutes=2))
    world.clock.advance(DEADLINE.total_seconds() * 2)
    assert world.monitor().run_tick().recorded == 0


def test_backfill_runs_are_checked_only_when_configured(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="None", schedule="@daily")
    world.trigger(run_type=DagRunType.BACKFILL, logical=NOW.subtract(days=10).start_of("day"))  # due from now
    world.clock.advance(SLA.total_seconds() + 1)
    assert world.monitor().run_tick().recorded == 0
    assert world.monitor(check_backfill=True).run_tick().recorded == 1


def test_manual_runs_are_checked_and_a_miss_is_recorded_against_its_own_run(
    engine: Engine, tmp_path: Path
) -> None:
    # Airflow 2 never checked manual runs, and tagged misses with the *next* interval's date.
    world = World(engine, tmp_path, callback="None")
    early = world.trigger(at=NOW, run_id="manual__early")
    late = world.trigger(at=NOW.add(minutes=5), run_id="manual__late")
    world.set_ti(early, "slow", "success", end=NOW.add(minutes=9))
    world.set_ti(late, "slow", "running")
    world.clock.advance(SLA.total_seconds() + 6 * 60)
    world.monitor().run_tick()
    [miss] = world.misses()
    assert (miss["run_id"], miss["task_id"]) == ("manual__late", "slow")
    assert miss["due_at"].replace(tzinfo=None) == NOW.add(minutes=15).naive()


def test_due_times_older_than_the_lookback_are_not_checked(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="None")
    world.trigger()
    world.clock.advance(DEADLINE.total_seconds() + 3600)
    assert world.monitor(lookback=1800.0).run_tick().recorded == 0
    assert world.monitor(lookback=86400.0).run_tick().recorded == 2  # the task's SLA and the run's deadline


def test_a_silenced_dag_records_its_misses_but_sends_nothing(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="None")
    world.trigger()
    with begin_write(engine) as conn:
        add_silence(conn, "late", until=NOW.add(days=1), reason="maintenance", created_by="ops", now=NOW)
    world.clock.advance(SLA.total_seconds() + 1)
    assert world.monitor().run_tick().recorded == 1
    with begin_read(engine) as conn:  # recorded as silenced (visible in `alerts list`), never sent
        assert [(r.state, r.alert.kind.value) for r in outbox.list_rows(conn)] == [("silenced", "sla_miss")]
        assert "maintenance" in (outbox.list_rows(conn)[0].note or "")


def test_with_no_channel_available_misses_are_recorded_and_nothing_is_queued(
    engine: Engine, tmp_path: Path
) -> None:
    world = World(engine, tmp_path, callback="None")
    world.trigger()
    world.clock.advance(SLA.total_seconds() + 1)
    assert world.monitor(available=()).run_tick().recorded == 1
    assert world.outbox() == []


def test_the_callback_is_called_once_with_airflows_arguments(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="record")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "running")
    monitor = world.monitor()
    world.clock.advance(SLA.total_seconds() + 1)
    assert monitor.run_tick().callbacks == 1
    logical = NOW.isoformat()
    assert world.calls() == [
        {
            "dag": "late",
            "task_list": f"slow on {logical}",
            "blocking_task_list": f"after on {logical}\nslow on {logical}",
            "slas": [
                [
                    "slow",
                    "late",
                    run_id,
                    logical,
                    world.clock.now().isoformat(),
                    NOW.add(minutes=10).isoformat(),
                ]
            ],
            "blocking_tis": [["after", run_id, "none"], ["slow", run_id, "running"]],
        }
    ]
    assert world.misses()[0]["callback_done_at"] is not None
    world.clock.advance(60)
    assert monitor.run_tick().callbacks == 0
    assert world.monitor().run_tick().callbacks == 0  # restarted: not called again
    assert len(world.calls()) == 1


def test_misses_of_one_dag_in_one_tick_make_one_callback_call(engine: Engine, tmp_path: Path) -> None:
    world = World(engine, tmp_path, callback="record")
    first, second = world.trigger(run_id="manual__1"), world.trigger(run_id="manual__2")
    world.clock.advance(SLA.total_seconds() + 1)
    assert world.monitor().run_tick().callbacks == 1
    [call] = world.calls()
    assert sorted(s[2] for s in call["slas"]) == [first, second]


def test_a_raising_callback_is_logged_and_changes_nothing(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(engine, tmp_path, callback="[boom, record]")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "running")
    monitor = world.monitor()
    world.clock.advance(SLA.total_seconds() + 1)
    with caplog.at_level(logging.ERROR, logger="windvane.alerting.sla"):
        assert monitor.run_tick().callbacks == 1  # the second callback still ran
    assert monitor.callback_failures == 1 and "the SLA callback itself fails" in caplog.text
    assert world.metrics.values(CALLBACK_FAILURES, kind="sla_miss") == [1.0]
    assert len(world.metrics.values(CALLBACK_DURATION, kind="sla_miss")) == 1
    [miss] = world.misses()
    assert miss["state"] == "running" and miss["callback_done_at"] is not None
    assert world.outbox() == [("sla_miss", "email", ("bob@work.com",))]
    assert monitor.run_tick().callbacks == 0 and monitor.callback_failures == 1  # not retried


def test_a_hanging_callback_is_killed_after_its_timeout(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(engine, tmp_path, callback="hang")
    world.trigger()
    monitor = world.monitor(callback_timeout=1.0)
    world.clock.advance(SLA.total_seconds() + 1)
    with caplog.at_level(logging.ERROR, logger="windvane.alerting.sla"):
        assert monitor.run_tick().callbacks == 0
    assert monitor.callback_failures == 1 and "did not finish" in caplog.text
    assert world.metrics.values(CALLBACK_FAILURES, kind="sla_miss") == [1.0]
    assert world.misses()[0]["callback_done_at"] is not None


def test_a_callback_claimed_by_a_monitor_that_died_runs_once_its_claim_runs_out(
    engine: Engine, tmp_path: Path
) -> None:
    from windvane.alerting.sla import store

    world = World(engine, tmp_path, callback="record")
    world.trigger()
    world.clock.advance(SLA.total_seconds() + 1)
    dead = world.monitor()
    dead._detect(world.clock.now(), NOW)  # records the miss; then "dies" after claiming its callback
    with begin_write(engine) as conn:
        [claimed] = store.claim_callbacks(conn, now=world.clock.now(), until=world.clock.now().add(minutes=1))
    survivor = world.monitor()
    assert survivor.run_tick().callbacks == 0  # still claimed
    world.clock.advance(61)
    assert survivor.run_tick().callbacks == 1
    assert [s[0] for s in world.calls()[0]["slas"]] == [claimed.task_id]


def test_a_task_cleared_after_meeting_its_sla_is_not_late_when_it_runs_again(
    engine: Engine, tmp_path: Path
) -> None:
    world = World(engine, tmp_path, callback="None")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "success", end=NOW.add(minutes=1))
    world.set_ti(run_id, "after", "success", end=NOW.add(minutes=2))
    world.set_run(run_id, "success", end=NOW.add(minutes=2))
    world.clock.advance(SLA.total_seconds() + 60)
    monitor = world.monitor()
    assert monitor.run_tick().recorded == 0
    with begin_write(engine) as conn:  # `windvane tasks clear`: the run goes back to queued
        clear_task_instances(conn, world.dag, world.run_pk(run_id), now=world.clock.now())
    world.clock.advance(DEADLINE.total_seconds() * 2)
    monitor.run_tick()
    # the task's due time had passed (met): its re-run is not late; the run's deadline had not, and the
    # re-run did not succeed by it
    assert [(m["kind"], m["task_id"]) for m in world.misses()] == [("run_deadline", "")]


def test_misses_past_the_retention_are_pruned_and_never_detected_again(
    engine: Engine, tmp_path: Path
) -> None:
    world = World(engine, tmp_path, callback="record")
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "running")
    monitor = world.monitor(retention=3 * 86400.0, lookback=86400.0)
    world.clock.advance(SLA.total_seconds() + 1)
    assert monitor.run_tick().recorded == 1
    world.clock.advance(2 * 86400)  # past the lookback, not yet the retention
    monitor.run_tick()
    assert len(world.misses()) == 1
    world.clock.advance(86400 + 1)  # detected more than the retention ago, its callback done
    assert monitor.run_tick().recorded == 0
    assert world.misses() == []
    world.clock.advance(2 * 3600)
    assert monitor.run_tick().recorded == 0  # its due time is past the lookback: not recorded anew
    assert len(world.calls()) == 1


def test_a_pending_callback_keeps_its_miss_and_the_lookback_bounds_the_retention(
    engine: Engine, tmp_path: Path
) -> None:
    from windvane.alerting.sla import store

    world = World(engine, tmp_path, callback="record")
    world.trigger()
    world.clock.advance(SLA.total_seconds() + 1)
    world.monitor()._detect(world.clock.now(), NOW)  # recorded; its callback not called yet
    later = world.clock.now().add(days=400)
    with begin_write(engine) as conn:
        assert store.prune(conn, older_than=later) == 0  # pending: kept whatever its age
    monitor = world.monitor(retention=60.0, lookback=86400.0)  # a retention shorter than the lookback
    assert monitor.run_tick().callbacks == 1
    world.clock.advance(7200)
    monitor._pruned_at = None
    monitor.run_tick()
    # the task's miss is kept for the lookback (or it would be detected again); the run's deadline
    # (due an hour in) was missed meanwhile
    assert [m["kind"] for m in world.misses()] == ["task_sla", "run_deadline"]


def test_a_notifier_object_works_as_the_dags_sla_miss_callback(
    engine: Engine, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    notifier = (
        '__import__("windvane.alerting", fromlist=["EmailNotifier"]).EmailNotifier('
        '__import__("windvane.alerting.channels.email", fromlist=["SmtpConfig"]).SmtpConfig('
        f"host={smtp_server.host!r}, port={smtp_server.port}, timeout=10))"
    )
    world = World(engine, tmp_path, callback=notifier)
    run_id = world.trigger()
    world.set_ti(run_id, "slow", "running")
    monitor = world.monitor()
    world.clock.advance(SLA.total_seconds() + 1)
    assert monitor.run_tick().callbacks == 1 and monitor.callback_failures == 0
    [mail] = smtp_server.received  # sent by the notifier, in the monitor's forked child
    assert mail.rcpt_tos == ["bob@work.com"]
    assert str(mail.message["Subject"]).strip() == f"[windvane] SLA missed: late.slow in run {run_id}"
