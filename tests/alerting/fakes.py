"""Fake channels and helpers for the delivery tests (no network)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime

import pendulum
from sqlalchemy import Engine, select

from windvane.alerting.alert import Alert, AlertKind
from windvane.alerting.channels.base import DeliveryError
from windvane.alerting.tables import alert_outbox
from windvane.core.store.engine import begin_read

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")


class Recording:
    """Delivers every alert; counts deliveries by dedupe key and keeps the alerts (thread-safe)."""

    def __init__(self, name: str = "slack") -> None:
        self.name = name
        self.received: Counter[str] = Counter()
        self.alerts: list[Alert] = []
        self.lock = threading.Lock()

    async def send(self, alert: Alert) -> None:
        with self.lock:
            self.received[alert.dedupe_key] += 1
            self.alerts.append(alert)


class Flaky(Recording):
    """Fails its first ``failures`` calls (``retry_after`` / ``permanent`` as given), then delivers."""

    def __init__(
        self,
        name: str = "slack",
        failures: int = 1_000_000,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(name)
        self.failures = failures
        self.retry_after = retry_after
        self.permanent = permanent
        self.calls = 0

    async def send(self, alert: Alert) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeliveryError(
                f"{self.name}: HTTP 500 from the far end",
                retry_after=self.retry_after,
                permanent=self.permanent,
            )
        await super().send(alert)


class Down(Recording):
    """Fails while ``down`` is true (an outage), then delivers."""

    def __init__(self, name: str = "email") -> None:
        super().__init__(name)
        self.down = True
        self.calls = 0

    async def send(self, alert: Alert) -> None:
        self.calls += 1
        if self.down:
            raise DeliveryError(f"{self.name}: connection refused")
        await super().send(alert)


class Hanging(Recording):
    """Never answers: ``entered`` is set once a send is in progress."""

    def __init__(self, name: str = "slack") -> None:
        super().__init__(name)
        self.entered = threading.Event()

    async def send(self, alert: Alert) -> None:
        self.entered.set()
        await asyncio.Event().wait()


def alert(n: int = 1, *, kind: AlertKind = AlertKind.TASK_FAILED, channel: str = "slack") -> Alert:
    return Alert(
        dedupe_key=f"{kind.value}|d|t{n}|r|1|{channel}",
        kind=kind,
        dag_id="d",
        run_id="r",
        occurred_at=datetime(2024, 3, 10, 12, tzinfo=UTC),
        task_id=f"t{n}",
        try_number=1,
        max_tries=0,
        state="failed",
        error="ValueError: kaboom",
    )


def rows(engine: Engine) -> list[dict[str, object]]:
    """Every outbox row (as a dict), in id order."""
    with begin_read(engine) as conn:
        return [dict(r) for r in conn.execute(select(alert_outbox).order_by(alert_outbox.c.id)).mappings()]
