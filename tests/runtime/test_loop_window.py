"""The scheduler's loop p95: the window of recent passes (pure), written to its job row with the
heartbeat, and reported by ``/health`` and the UI's health panel."""

from __future__ import annotations

import pendulum
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from windvane.api.app import create_app
from windvane.api.config import ApiConfig
from windvane.core.model.clock import FakeClock
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.loop_window import LoopWindow, percentile
from windvane.core.store.engine import begin_read
from windvane.core.store.tables import job
from windvane.testing import InstantExecutor

NOW = pendulum.datetime(2024, 1, 2, tz="UTC")


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([], 95) is None
    assert percentile([0.3], 95) == 0.3
    values = [i / 100 for i in range(1, 101)]  # 0.01 .. 1.00
    assert percentile(values, 95) == 0.95 and percentile(values, 50) == 0.5
    window = LoopWindow(size=3)
    for seconds in (9.0, 1.0, 2.0, 3.0):  # the oldest falls out
        window.add(seconds)
    assert len(window) == 3 and window.p95() == 3.0


class TickingClock(FakeClock):
    """Monotonic time moves 10 ms each time the scheduler reads it: every pass takes time."""

    def monotonic(self) -> float:
        self.advance(0.01)
        return super().monotonic()


def test_the_scheduler_writes_its_loop_p95_with_its_heartbeat_and_health_reports_it(engine: Engine) -> None:
    clock = TickingClock(NOW)
    config = SchedulerConfig(poll_interval_seconds=0.0, heartbeat_seconds=60.0)
    executor = InstantExecutor(2, engine=engine)
    scheduler = Scheduler(engine=engine, executor=executor, clock=clock, config=config)
    scheduler.start()
    for _ in range(20):
        scheduler.run_once()
    expected = scheduler.loop_window.p95()
    clock.advance(61.0)  # the next pass heartbeats, with the 20 passes so far
    scheduler.run_once()
    with begin_read(engine) as conn:
        row = conn.execute(
            select(job.c.loop_p95_seconds, job.c.loop_samples).where(job.c.id == scheduler.job_id)
        ).one()
    assert expected is not None and expected > 0
    assert row.loop_samples == 20 and row.loop_p95_seconds == expected
    with TestClient(create_app(engine, ApiConfig(secret_key="k", health_threshold_seconds=1e9))) as client:
        body = client.get("/api/v1/health").json()
    assert body["scheduler_loop_p95_seconds"] == expected and body["scheduler_loop_samples"] == 20
    assert body["queued"] == body["running"] == 0 and body["import_errors"] == 0
    assert body["open_slots"] == body["total_slots"] > 0
