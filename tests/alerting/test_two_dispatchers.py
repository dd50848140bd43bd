"""Two dispatchers (two schedulers) on one database: every alert relayed once and delivered once per
channel, each dispatcher relaying and sending concurrently."""

from __future__ import annotations

import asyncio
from collections import Counter

import pendulum
from sqlalchemy import Engine

from tests.runtime.test_scheduler import Noop, drive, make_scheduler
from windvane.alerting.alert import Alert, AlertKind
from windvane.alerting.dispatcher import AlertDispatcher, DispatchConfig
from windvane.alerting.noise import NoiseConfig
from windvane.alerting.routing import Routing
from windvane.core.authoring.dag import DAG
from windvane.core.model.clock import FakeClock
from windvane.core.model.workload import Workload
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.testing import InstantExecutor, register_dag, run_states, wait_for

from .fakes import NOW, Recording, rows

TASKS = 30
ROUTING = Routing(by_kind=((AlertKind.TASK_FAILED, ("email", "slack")), (AlertKind.RUN_FAILED, ("slack",))))


#: Each alert its own row and every row delivered (a grouped message stands for several rows: counted
#: by its ``member_count``); no run alert replacing task alerts, so every task alert is delivered.
NOISE = NoiseConfig(group_wait=0.0, replace_task_alerts=False)


class Slow(Recording):
    """Delivers after a short await, so both dispatchers have sends in flight at once; ``delivered``
    counts the alerts delivered (a grouped message counts for each alert it carries)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.delivered = 0

    async def send(self, alert: Alert) -> None:
        await asyncio.sleep(0.005)
        with self.lock:
            self.delivered += max(alert.member_count, 1)
        await super().send(alert)


def failing_run(engine: Engine) -> None:
    """One run of ``TASKS`` tasks (email set), every one failing: ``TASKS`` task alerts per channel."""
    with DAG("wide", schedule=None, start_date=pendulum.datetime(2024, 1, 1), max_active_tasks=64) as dag:
        for n in range(TASKS):
            Noop(task_id=f"t{n:02d}", email="bob@work.com")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)

    def outcome(w: Workload) -> str:
        return "failed"

    clock = FakeClock(NOW)
    scheduler = make_scheduler(
        engine, InstantExecutor(64, engine=engine, outcome=outcome, clock=clock), clock
    )
    drive(scheduler, lambda: "failed" in run_states(engine, "wide").values())
    scheduler.shutdown()


def test_two_dispatchers_deliver_every_alert_exactly_once_per_channel(engine: Engine) -> None:
    email, slack = Slow("email"), Slow("slack")
    config = DispatchConfig(poll_interval=0.01, batch_size=4, concurrency=2)
    dispatchers = [
        AlertDispatcher(
            engine, {"email": email, "slack": slack}, routing=ROUTING, config=config, owner=name, noise=NOISE
        )
        for name in ("d1", "d2")
    ]
    for d in dispatchers:
        d.relay.register(NOW)  # as start() does, before the scheduler loop
    failing_run(engine)
    for d in dispatchers:
        d.start()
    try:
        wait_for(
            lambda: email.delivered >= TASKS and slack.delivered >= TASKS + 1,
            timeout=60,
            what="every alert to be delivered",
        )
    finally:
        for d in dispatchers:
            d.stop()
    assert set(email.received.values()) == {1} and set(slack.received.values()) == {1}  # no message twice
    assert (email.delivered, slack.delivered) == (TASKS, TASKS + 1)  # every alert once (+ the run's on Slack)
    outbox = rows(engine)
    assert len(outbox) == 2 * TASKS + 1
    assert all(r["state"] == "sent" for r in outbox)
    assert Counter(r["kind"] for r in outbox) == {"task_failed": 2 * TASKS, "run_failed": 1}
    assert all(d.failures == 0 for d in dispatchers)
