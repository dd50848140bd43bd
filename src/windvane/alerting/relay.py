"""The relay: journal rows in, outbox rows out, in one transaction.

Under the journal consumer :data:`CONSUMER` (registered at the journal's tail
on first use: alerts start from when alerting was first switched on), one
:meth:`Relay.run_once` reads the entries after the cursor, derives their
alerts (:mod:`windvane.alerting.routing`), drops silenced ones
(:mod:`windvane.alerting.silences`), inserts the rest into the outbox
(a duplicate dedupe key is ignored) and advances the cursor, all in one
write transaction: a crash at any point leaves either all of it or none.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from windvane.alerting import outbox
from windvane.alerting.routing import Routing, derive
from windvane.alerting.silences import active_silences, silenced
from windvane.core.interfaces import SerializedDag
from windvane.core.store import dags, journal
from windvane.core.store.engine import begin_read, begin_write
from windvane.errors import NotFoundError

log = logging.getLogger("windvane.alerting.relay")

#: The relay's journal consumer name.
CONSUMER = "alerting"


@dataclass(frozen=True, slots=True)
class RelayResult:
    """What one pass did: entries read, outbox rows added, alerts silenced, duplicates ignored."""

    entries: int = 0
    added: int = 0
    silenced: int = 0
    duplicates: int = 0


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
    ) -> None:
        self.engine = engine
        self.routing = routing
        self.channels = frozenset(channels)
        self.batch_size = batch_size
        self.consumer = consumer
        self._dags: dict[str, tuple[str, SerializedDag]] = {}
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
            added = muted = duplicates = 0
            for entry in entries:
                for routed in derive(entry, self._dag(conn, entry.dag_id), self.routing, self.channels):
                    if silenced(silences, entry.dag_id, routed.alert.task_id, now=now):
                        muted += 1
                        log.info("alert %s is silenced; not sent", routed.alert.dedupe_key)
                    elif outbox.add(conn, routed.alert, routed.channel, now=now):
                        added += 1
                    else:
                        duplicates += 1
            cursor = journal.advance(conn, self.consumer, entries[-1].id, now=now)
        self._cursor = cursor
        return RelayResult(len(entries), added, muted, duplicates)

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
            total = RelayResult(
                total.entries + done.entries,
                total.added + done.added,
                total.silenced + done.silenced,
                total.duplicates + done.duplicates,
            )
            if done.entries < self.batch_size:
                return total

    def _dag(self, conn: Connection, dag_id: str) -> SerializedDag | None:
        """The stored DAG, parsed once per ``dag_hash``; None when there is no such DAG."""
        try:
            row = dags.get_dag(conn, dag_id)
        except NotFoundError:
            return None
        cached = self._dags.get(dag_id)
        if cached is not None and cached[0] == row.dag_hash:
            return cached[1]
        parsed = SerializedDag.from_json(dags.get_serialized(conn, dag_id))
        self._dags[dag_id] = (row.dag_hash, parsed)
        return parsed
