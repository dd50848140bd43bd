"""The dispatcher: a :class:`~windvane.core.interfaces.Service` that delivers the outbox.

It runs on its own thread with its own asyncio loop, so a slow channel never
slows the scheduler. Each :meth:`AlertDispatcher.tick` runs the relay, claims
due rows (:func:`windvane.alerting.outbox.claim_due`), sends them through
their channel, at most ``concurrency`` at once, and records each outcome in a
transaction of its own right after the send (so the window in which a crash
can cause a second delivery is one short commit):

* delivered: ``sent``, counted in ``windvane_alerts_sent_total{channel}``, and the time from the
  fact (the alert's ``occurred_at``: its journal row's ``recorded_at``) to the channel accepting it
  observed in ``windvane_alerts_delivery_latency_seconds{channel}``;
* :class:`~windvane.alerting.channels.base.DeliveryError` (or a timeout, or a
  channel bug): counted in ``windvane_alerts_failed_total{channel}``, tried again
  after exponential backoff with full jitter (or the far end's ``retry_after``,
  whichever is later); ``dead`` when ``permanent`` or once the row is
  ``max_age`` old, logged as an error with the channel's message and counted in
  ``windvane_alerts_dead_total{channel}``.

After each tick ``windvane_alerts_outbox_pending`` gauges the rows still pending.

Between ticks it waits ``poll_interval`` (not after a tick that claimed a full batch: more may be due);
with ``journal_check`` it also looks at the journal's
tail that often (one indexed ``max(id)`` read, no write lock) and ticks as soon as it grew, so a
failure is relayed and sent within about ``journal_check`` rather than ``poll_interval / 2`` on
average (retries still wait for their due time, checked each ``poll_interval``).

A claim lasts ``claim_seconds`` (longer than ``send_timeout``); a dispatcher
killed mid-send leaves its claim, and whoever claims after it runs out sends
the alert again: at least once per channel, never two rows for one alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from windvane.alerting import outbox
from windvane.alerting.backoff import Backoff
from windvane.alerting.channels.base import Channel, DeliveryError
from windvane.alerting.links import Links
from windvane.alerting.noise import NoiseConfig
from windvane.alerting.outbox import OutboxRow
from windvane.alerting.relay import Relay, RelayResult
from windvane.alerting.routing import Routing
from windvane.core.interfaces import Clock, SystemClock
from windvane.core.store.engine import begin_read, begin_write
from windvane.metrics import MetricsSink, NullSink
from windvane.metrics.catalogue_alerting import (
    ALERTS_DEAD,
    ALERTS_DELIVERY_LATENCY,
    ALERTS_FAILED,
    ALERTS_OUTBOX_PENDING,
    ALERTS_SENT,
)

log = logging.getLogger("windvane.alerting.dispatcher")


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    """How the dispatcher paces itself (seconds throughout); see :class:`AlertDispatcher`."""

    poll_interval: float = 2.0
    #: Between ticks, look at the journal's tail this often and tick at once when it grew (a new
    #: failure is relayed and sent without waiting out ``poll_interval``); None: no such check.
    journal_check: float | None = None
    max_age: float = 24 * 3600.0
    backoff: Backoff = field(default_factory=Backoff)
    send_timeout: float = 60.0
    claim_seconds: float = 180.0
    concurrency: int = 4
    batch_size: int = 50
    #: How long :meth:`AlertDispatcher.stop` lets sends in flight finish before cancelling them.
    stop_grace: float = 1.0
    #: Sent and dead rows older than this are deleted (checked at most once an hour).
    retention: float = 30 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one tick did."""

    relayed: RelayResult = field(default_factory=RelayResult)
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0


#: the shortest wait between ticks when a pending row is due already (seconds)
DUE_AGAIN_FLOOR = 0.05


def default_owner() -> str:
    """``host:pid:random``: names this dispatcher in ``claimed_by``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class AlertDispatcher:
    """Relays the journal into the outbox and delivers it through ``channels`` (name -> channel)."""

    name = "alert-dispatch"

    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, Channel],
        *,
        routing: Routing | None = None,
        config: DispatchConfig | None = None,
        clock: Clock | None = None,
        metrics: MetricsSink | None = None,
        owner: str | None = None,
        draw: Callable[[], float] = random.random,
        noise: NoiseConfig | None = None,
        links: Links | None = None,
    ) -> None:
        self.engine = engine
        self.channels = dict(channels)
        self.config = config or DispatchConfig()
        self.clock: Clock = clock or SystemClock()
        self.metrics = metrics or NullSink()
        self.owner = owner or default_owner()
        self.draw = draw
        self.relay = Relay(
            engine, routing or Routing(), self.channels, noise=noise, links=links, metrics=self.metrics
        )
        #: Ticks that raised (each is logged; the loop goes on).
        self.failures = 0
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._pruned_at: datetime | None = None

    # -- one tick -------------------------------------------------------------------------------
    async def tick(self) -> TickResult:
        """Relay, claim due rows and send them (see the module doc)."""
        now = self.clock.now()
        try:
            relayed = self.relay.run_until_caught_up(now)
        except Exception:
            self.failures += 1
            log.exception("alert relay failed; delivering what is already in the outbox")
            relayed = RelayResult()
        self._prune(now)
        if not self.channels:
            return TickResult(relayed)
        try:
            return await self._send_due(now, relayed)
        finally:
            self._gauge_pending()

    def _prune(self, now: datetime) -> None:
        if self._pruned_at is not None and now - self._pruned_at < timedelta(hours=1):
            return
        self._pruned_at = now
        try:
            with begin_write(self.engine) as conn:
                gone = outbox.prune(conn, older_than=now - timedelta(seconds=self.config.retention))
        except Exception:
            log.exception("could not prune the alert outbox; trying again in an hour")
            return
        if gone:
            log.info("pruned %d delivered or dead alerts from the outbox", gone)

    def _gauge_pending(self) -> None:
        try:
            with begin_read(self.engine) as conn:
                pending = outbox.pending_count(conn)
        except Exception:
            log.exception("could not count the alert outbox")
            return
        self.metrics.gauge(ALERTS_OUTBOX_PENDING, pending)

    async def _send_due(self, now: datetime, relayed: RelayResult) -> TickResult:
        until = now + timedelta(seconds=self.config.claim_seconds)
        with begin_write(self.engine) as conn:
            rows = outbox.claim_due(
                conn,
                owner=self.owner,
                now=now,
                until=until,
                channels=self.channels,
                limit=self.config.batch_size,
            )
        if not rows:
            return TickResult(relayed)
        gate = asyncio.Semaphore(self.config.concurrency)
        results = await asyncio.gather(*(self._deliver(row, gate) for row in rows), return_exceptions=True)
        outcomes: list[str] = []
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):  # recording the outcome failed: the claim runs out
                self.failures += 1
                log.error("alert %s: recording the delivery outcome failed", row.dedupe_key, exc_info=result)
            else:
                outcomes.append(result)
        return TickResult(
            relayed,
            claimed=len(rows),
            sent=outcomes.count("sent"),
            retried=outcomes.count("retry"),
            dead=outcomes.count("dead"),
        )

    def run_tick(self) -> TickResult:
        """One :meth:`tick` on a loop of its own (tests, ``windvane alerts`` commands)."""
        return asyncio.run(self.tick())

    async def _deliver(self, row: OutboxRow, gate: asyncio.Semaphore) -> str:
        channel = self.channels[row.channel]
        async with gate:
            try:
                await asyncio.wait_for(channel.send(row.alert), self.config.send_timeout)
            except asyncio.CancelledError:
                self._release(row, "the dispatcher stopped mid-send")
                raise
            except DeliveryError as exc:
                return self._failed(row, str(exc), exc.retry_after, exc.permanent)
            except TimeoutError:
                return self._failed(
                    row,
                    f"channel {row.channel!r} timed out after {self.config.send_timeout:g} s",
                    None,
                    False,
                )
            except Exception as exc:  # a channel bug: logged with its traceback, retried like a failure
                log.exception("channel %r raised while sending alert %s", row.channel, row.dedupe_key)
                return self._failed(row, f"channel {row.channel!r} raised {type(exc).__name__}", None, False)
        accepted = self.clock.now()
        with begin_write(self.engine) as conn:
            outbox.mark_sent(conn, row.id, now=accepted)
        self.metrics.incr(ALERTS_SENT, channel=row.channel)
        latency = accepted.timestamp() - row.alert.occurred_at.timestamp()
        self.metrics.observe(ALERTS_DELIVERY_LATENCY, max(latency, 0.0), channel=row.channel)
        return "sent"

    def _failed(self, row: OutboxRow, error: str, retry_after: float | None, permanent: bool) -> str:
        self.metrics.incr(ALERTS_FAILED, channel=row.channel)
        now = self.clock.now()
        deadline = row.created_at + timedelta(seconds=self.config.max_age)
        if permanent or now >= deadline:
            why = "a permanent failure" if permanent else f"{self.config.max_age:g} s of failures"
            with begin_write(self.engine) as conn:
                outbox.mark_dead(conn, row.id, owner=self.owner, error=error)
            self.metrics.incr(ALERTS_DEAD, channel=row.channel)
            log.error(
                "ALERT LOST: %s on channel %r is dead after %d attempt(s) (%s): %s",
                row.dedupe_key,
                row.channel,
                row.attempts,
                why,
                error,
            )
            return "dead"
        due = min(self._next_attempt(now, row.attempts, retry_after), deadline)
        with begin_write(self.engine) as conn:
            outbox.mark_retry(conn, row.id, owner=self.owner, next_attempt_at=due, error=error)
        log.warning(
            "alert %s on channel %r failed (attempt %d), next try at %s: %s",
            row.dedupe_key,
            row.channel,
            row.attempts,
            due.isoformat(),
            error,
        )
        return "retry"

    def _next_attempt(self, now: datetime, attempts: int, retry_after: float | None) -> datetime:
        return self.config.backoff.next_attempt(now, attempts, retry_after=retry_after, draw=self.draw)

    def _release(self, row: OutboxRow, error: str) -> None:
        try:
            with begin_write(self.engine) as conn:
                outbox.mark_retry(
                    conn, row.id, owner=self.owner, next_attempt_at=self.clock.now(), error=error
                )
        except Exception:
            log.exception("could not release the claim on alert %s; it is retried when it runs out", row.id)

    # -- the service ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the dispatcher's thread and return."""
        if self._thread is not None:
            return
        self.relay.register(self.clock.now())
        self._stopping.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self) -> None:
        """Stop the loop: sends in flight get ``stop_grace`` seconds, then are cancelled (their claims
        released). Bounded; idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._call(lambda wake: wake.set())
        thread.join(self.config.stop_grace)
        if thread.is_alive():
            loop, main = self._loop, self._main
            if loop is not None and main is not None:
                loop.call_soon_threadsafe(main.cancel)
            thread.join(5.0)
            if thread.is_alive():
                log.error("the alert dispatcher did not stop within %g s", self.config.stop_grace + 5.0)

    def _call(self, action: Callable[[asyncio.Event], None]) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed already
                loop.call_soon_threadsafe(action, wake)

    def _run(self) -> None:
        try:
            asyncio.run(self._forever())
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the alert dispatcher's loop failed")

    async def _forever(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._main = asyncio.current_task()
        self._ready.set()
        while not self._stopping.is_set():
            full = False
            try:
                full = (await self.tick()).claimed >= self.config.batch_size
            except Exception:
                self.failures += 1
                log.exception("alert dispatch tick failed; trying again in %g s", self.config.poll_interval)
            if self._stopping.is_set():
                break
            if full:  # more may be due at once: a backlog is drained without waiting between batches
                continue
            await self._idle(self._wake, self._until_next_due())
            self._wake.clear()

    def _until_next_due(self) -> float:
        """Seconds until the earliest pending row is due, at most ``poll_interval``: a row held back
        (``group_wait``, a retry's backoff) is sent when it falls due, not a poll interval later."""
        interval = self.config.poll_interval
        if not self.channels:
            return interval
        now = self.clock.now()
        try:
            with begin_read(self.engine) as conn:
                due = outbox.next_due(conn, channels=self.channels)
        except Exception:
            log.exception("could not read when the next alert is due; waiting out the poll interval")
            return interval
        if due is None:
            return interval
        # a row due already fell due after the last claim looked; the floor keeps a row another
        # dispatcher holds locked from turning this loop into a spin
        return min(interval, max(DUE_AGAIN_FLOOR, (due - now).total_seconds()))

    async def _idle(self, wake: asyncio.Event, interval: float) -> None:
        """Wait ``interval`` between ticks, less when woken or (with ``journal_check``) when the
        journal grew past the relay's cursor."""
        check = self.config.journal_check
        if check is None or check >= interval:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + interval
        while (left := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(wake.wait(), min(check, left))
                return
            except TimeoutError:
                pass
            try:
                if self.relay.behind():
                    return
            except Exception:
                log.exception("could not check the journal for new entries; waiting out the poll interval")
                check = interval
