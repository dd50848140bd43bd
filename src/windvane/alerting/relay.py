"""The relay: journal rows in, outbox rows out, in one transaction.

Under the journal consumer :data:`CONSUMER` (registered at the journal's tail
on first use: alerts start from when alerting was first switched on), one
:meth:`Relay.run_once` reads the entries after the cursor, derives their
alerts (:mod:`windvane.alerting.routing`), inserts them into the outbox (a
duplicate dedupe key is ignored) and advances the cursor, all in one write
transaction: a crash at any point leaves either all of it or none.

Noise control (:mod:`windvane.alerting.noise`) happens here, and every alert it
holds back is still recorded (``windvane alerts list`` shows it, with a note):

* an alert matching an active silence is recorded ``silenced``;
* a run-failure alert of a DAG whose previous one was raised less than
  ``repeat_interval`` ago (and no run succeeded since) is recorded ``suppressed``;
* a run-failure alert supersedes its run's pending task alerts on its channel,
  and a task alert whose run already has one there is recorded ``superseded``;
* a groupable task alert is due ``group_wait`` seconds from now, so its siblings
  arriving meanwhile go out in the same message.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from windvane.alerting import outbox, repeats
from windvane.alerting.alert import AlertKind
from windvane.alerting.links import Links
from windvane.alerting.noise import NoiseConfig, group_key, repeat_suppressed, replaceable, replaces
from windvane.alerting.routing import TASK_KINDS, Routed, Routing, derive
from windvane.alerting.silences import Silence, active_silences, matching
from windvane.alerting.stored_dags import StoredDags
from windvane.alerting.tables import SILENCED, SUPERSEDED, SUPPRESSED
from windvane.core.interfaces import JournalEntry, JournalKind
from windvane.core.store import journal
from windvane.core.store.engine import begin_read, begin_write
from windvane.metrics import MetricsSink, NullSink
from windvane.metrics.catalogue_alerting import ALERTS_HELD_BACK

log = logging.getLogger("windvane.alerting.relay")

#: The relay's journal consumer name.
CONSUMER = "alerting"


@dataclass(frozen=True, slots=True)
class RelayResult:
    """What one pass did: entries read, outbox rows added to be sent, alerts recorded silenced,
    duplicates ignored, run-failure repeats suppressed, task alerts superseded by their run's."""

    entries: int = 0
    added: int = 0
    silenced: int = 0
    duplicates: int = 0
    suppressed: int = 0
    superseded: int = 0

    def __add__(self, other: RelayResult) -> RelayResult:
        return RelayResult(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


class Relay:
    """Turns journal entries into outbox rows for ``channels`` (the names configured here)."""

    def __init__(
        self,
        engine: Engine,
        routing: Routing,
        channels: Collection[str],
        *,
        batch_size: int = 500,
        consumer: str = CONSUMER,
        noise: NoiseConfig | None = None,
        links: Links | None = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        self.engine = engine
        self.routing = routing
        self.channels = frozenset(channels)
        self.noise = noise or NoiseConfig()
        self.links = links or Links()
        #: ``windvane_alerts_held_back_total{channel, state}``, counted after each commit.
        self.metrics = metrics or NullSink()
        self._held: Counter[tuple[str, str]] = Counter()
        self.batch_size = batch_size
        self.consumer = consumer
        self._dags = StoredDags()
        #: The cursor as of this relay's latest commit (another relay may have moved it on since).
        self._cursor: int | None = None

    def register(self, now: datetime) -> int:
        """Register the consumer (at the journal's tail the first time; idempotent); its cursor.

        The dispatcher calls this in :meth:`AlertDispatcher.start`, before the scheduler
        loop starts, so a try that fails while its thread is still starting is not behind the
        cursor the first registration sets."""
        with begin_write(self.engine) as conn:
            return journal.register_consumer(conn, self.consumer, now=now)

    def run_once(self, now: datetime) -> RelayResult:
        """Relay up to ``batch_size`` entries (see the module doc)."""
        if self._cursor is not None:
            with begin_read(self.engine) as conn:  # nothing new: no write lock taken (SQLite has one)
                if journal.tail(conn) <= self._cursor:
                    return RelayResult()
        with begin_write(self.engine) as conn:
            cursor = journal.register_consumer(conn, self.consumer, now=now)
            entries = journal.read_after(conn, cursor, self.batch_size)
            if not entries:
                self._cursor = cursor
                return RelayResult()
            silences = active_silences(conn, now=now)
            total = RelayResult(entries=len(entries))
            self._held.clear()
            for entry in entries:
                total += self._relay(conn, entry, silences, now)
            cursor = journal.advance(conn, self.consumer, entries[-1].id, now=now)
        self._cursor = cursor
        for (channel, state), n in self._held.items():
            self.metrics.incr(ALERTS_HELD_BACK, n, channel=channel, state=state)
        return total

    def _relay(
        self, conn: Connection, entry: JournalEntry, silences: list[Silence], now: datetime
    ) -> RelayResult:
        """One entry's alerts into the outbox (see the module doc)."""
        if entry.kind is JournalKind.RUN_FINISHED and entry.state == "success":
            repeats.reset(conn, entry.dag_id)
        routed = derive(entry, self._dags.get(conn, entry.dag_id), self.routing, self.channels, self.links)
        repeat_note = self._repeat(conn, entry, routed)
        done = RelayResult()
        for r in routed:
            silence = matching(silences, entry.dag_id, r.alert.task_id, now=now)
            if silence is not None:
                log.info("alert %s is silenced by %s; not sent", r.alert.dedupe_key, silence.describe())
                added = outbox.insert(
                    conn, r.alert, r.channel, now=now, state=SILENCED, note=silence.describe()
                )
                self._held[(r.channel, SILENCED)] += int(added is not None)
                done += RelayResult(silenced=int(added is not None), duplicates=int(added is None))
            elif repeat_note is not None:
                added = outbox.insert(conn, r.alert, r.channel, now=now, state=SUPPRESSED, note=repeat_note)
                if added is not None:
                    self._held[(r.channel, SUPPRESSED)] += 1
                    done += RelayResult(suppressed=1, superseded=self._supersede(conn, r, added, now))
                else:
                    done += RelayResult(duplicates=1)
            else:
                done += self._add(conn, r, now)
        return done

    def _repeat(self, conn: Connection, entry: JournalEntry, routed: list[Routed]) -> str | None:
        """For a run-failure entry with channels: the note of a suppressed repeat, or None (alert,
        and remember when). Decided on the entry's own time, not the relay's."""
        if not routed or routed[0].alert.kind is not AlertKind.RUN_FAILED or self.noise.repeat_interval <= 0:
            return None
        state = repeats.get(conn, entry.dag_id)
        at = entry.recorded_at  # the failure's own time: a relay catching up after a stop decides alike
        if state is not None and repeat_suppressed(state.alerted_at, at, self.noise.repeat_interval):
            repeats.suppressed(conn, entry.dag_id)
            again = state.alerted_at + timedelta(seconds=self.noise.repeat_interval)
            return (
                f"repeat: DAG {entry.dag_id!r} is still failing; its run-failure alert was raised at "
                f"{state.alerted_at.isoformat(timespec='seconds')} ({state.suppressed + 1} repeat(s) "
                f"suppressed since); the next alerts after {again.isoformat(timespec='seconds')} or "
                "after a successful run"
            )
        repeats.alerted(conn, entry.dag_id, now=at)
        return None

    def _add(self, conn: Connection, r: Routed, now: datetime) -> RelayResult:
        alert, channel = r.alert, r.channel
        if alert.kind in TASK_KINDS and replaceable(alert, channel, self.noise):
            into = outbox.run_alert_id(conn, alert.dag_id, alert.run_id, channel)
            if into is not None:
                note = f"superseded by the run-failure alert #{into} of run {alert.run_id!r}"
                added = outbox.insert(
                    conn, alert, channel, now=now, state=SUPERSEDED, merged_into=into, note=note
                )
                self._held[(channel, SUPERSEDED)] += int(added is not None)
                return RelayResult(superseded=int(added is not None), duplicates=int(added is None))
        key = group_key(alert, channel)
        due = now + timedelta(seconds=self.noise.group_wait) if key is not None else now
        added = outbox.insert(conn, alert, channel, now=now, due=due, group_key=key)
        if added is None:
            return RelayResult(duplicates=1)
        return RelayResult(added=1, superseded=self._supersede(conn, r, added, now))

    def _supersede(self, conn: Connection, r: Routed, row_id: int, now: datetime) -> int:
        if not replaces(r.alert, r.channel, self.noise):
            return 0
        n = outbox.supersede(
            conn,
            dag_id=r.alert.dag_id,
            run_id=r.alert.run_id,
            channel=r.channel,
            kinds=TASK_KINDS,
            into=row_id,
            now=now,
            note=f"superseded by the run-failure alert #{row_id} of run {r.alert.run_id!r}",
        )
        self._held[(r.channel, SUPERSEDED)] += n
        return n

    def behind(self) -> bool:
        """Whether the journal has entries past this relay's cursor (one indexed read; True before
        the first pass)."""
        if self._cursor is None:
            return True
        with begin_read(self.engine) as conn:
            return journal.tail(conn) > self._cursor

    def run_until_caught_up(self, now: datetime) -> RelayResult:
        """:meth:`run_once` until a pass reads fewer than ``batch_size`` entries; the totals."""
        total = RelayResult()
        while True:
            done = self.run_once(now)
            total += done
            if done.entries < self.batch_size:
                return total
