"""A dispatcher process killed (SIGKILL) mid-send loses nothing: the next one delivers when the claim ends."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal

import pendulum
from sqlalchemy import Engine

from windvane.alerting import outbox
from windvane.alerting.alert import Alert
from windvane.alerting.dispatcher import AlertDispatcher, DispatchConfig
from windvane.core.model.clock import FakeClock
from windvane.core.store.engine import begin_write, create_db_engine
from windvane.testing import wait_for

from .fakes import NOW, Recording, alert, rows

CLAIM_SECONDS = 300.0


class Stuck:
    """Signals ``entered`` (a process-shared event) and never answers."""

    name = "slack"

    def __init__(self, entered: object) -> None:
        self.entered = entered

    async def send(self, alert: Alert) -> None:
        self.entered.set()  # type: ignore[attr-defined]
        await asyncio.Event().wait()


def run_dispatcher(url: str, entered: object) -> None:
    engine = create_db_engine(url)
    config = DispatchConfig(claim_seconds=CLAIM_SECONDS, send_timeout=CLAIM_SECONDS / 2)
    AlertDispatcher(engine, {"slack": Stuck(entered)}, config=config, owner="doomed").run_tick()


def test_a_dispatcher_killed_mid_send_loses_nothing(engine: Engine) -> None:
    with begin_write(engine) as conn:
        outbox.add(conn, alert(1), "slack", now=NOW)
    context = multiprocessing.get_context("spawn")
    entered = context.Event()
    url = engine.url.render_as_string(hide_password=False)
    child = context.Process(target=run_dispatcher, args=(url, entered))
    child.start()
    try:
        wait_for(entered.is_set, timeout=60, what="the doomed dispatcher to start sending")
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(30)
    finally:
        if child.is_alive():
            child.kill()
    [left] = rows(engine)
    assert (left["state"], left["claimed_by"], left["attempts"]) == ("pending", "doomed", 1)

    slack = Recording("slack")
    clock = FakeClock(NOW)
    claimed_until = pendulum.instance(left["claimed_until"]).in_tz("UTC")  # type: ignore[arg-type]
    clock.set(claimed_until.subtract(seconds=1))
    survivor = AlertDispatcher(engine, {"slack": slack}, clock=clock, owner="survivor")
    assert survivor.run_tick().claimed == 0  # the claim still holds
    clock.advance(1)
    assert survivor.run_tick().sent == 1
    assert slack.received == {alert(1).dedupe_key: 1}
    [done] = rows(engine)
    assert (done["state"], done["attempts"]) == ("sent", 2)
