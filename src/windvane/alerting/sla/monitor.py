"""The SLA monitor: a :class:`~windvane.core.interfaces.Service` beside the scheduler loop.

Each :meth:`SlaMonitor.run_tick` (every ``poll_interval`` on its own thread):

1. **detect**: reads the task instances and runs whose due time passed in the
   last ``lookback`` and that had not succeeded by it (indexed reads,
   :mod:`.store`), records each miss in ``sla_miss`` and, in the same
   transaction, adds its ``SLA_MISS`` alerts to the outbox (silences apply).
   Only the monitor whose insert wins does so, so several schedulers record one
   miss and send one alert; ``windvane_sla_missed_total`` counts task misses after
   the commit. A task is late while it still runs: it is detected at its due time.
2. **recover**: a missed task (or run) that has since succeeded gets its
   ``recovered_at`` and, with ``recovered_notice``, a ``RECOVERED`` alert
   ("recovered, late by X"), claimed by the same kind of guarded update.
   A miss first seen after the task already finished late is recorded recovered,
   with no second notice.
3. **callbacks**: claims the misses whose ``sla_miss_callback`` is pending, calls
   it once per DAG in a forked child with the DAG loaded (:mod:`.callback`), and
   marks them done whatever the callback did (raised, hung: logged, counted in
   :attr:`SlaMonitor.callback_failures`, never retried). A monitor killed between
   claim and done leaves the claim to run out, and the next one calls it then.

Once an hour it also deletes the misses detected more than ``retention`` ago
(``[alerting] retention_seconds``, as the outbox; never less than ``lookback``, so a
pruned miss is never detected again) whose callback is done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from windvane.alerting import outbox
from windvane.alerting.alert import AlertKind
from windvane.alerting.routing import Routing
from windvane.alerting.silences import active_silences, matching
from windvane.alerting.sla import decisions, store
from windvane.alerting.sla.alerts import routing_for, sla_alerts
from windvane.alerting.sla.callback import call_sla_callback
from windvane.alerting.sla.store import Candidate, MissRow
from windvane.alerting.stored_dags import StoredDags
from windvane.alerting.tables import SILENCED, TASK_SLA
from windvane.core.interfaces import Clock, SystemClock
from windvane.core.store.engine import begin_read, begin_write
from windvane.metrics import MetricsSink, NullSink
from windvane.metrics.catalogue_alerting import CALLBACK_DURATION, CALLBACK_FAILURES, SLA_MISSED

log = logging.getLogger("windvane.alerting.sla")


@dataclass(frozen=True, slots=True)
class SlaConfig:
    """The monitor's settings (``[alerting] sla_*``; seconds throughout)."""

    poll_interval: float = 5.0
    lookback: float = 2 * 86400.0
    #: Misses detected longer ago than this (and than ``lookback``) are deleted.
    retention: float = 30 * 86400.0
    check_backfill: bool = False
    recovered_notice: bool = True
    callback_timeout: float = 60.0
    channels: tuple[str, ...] = ("email",)


@dataclass(frozen=True, slots=True)
class SlaTickResult:
    """What one tick did: misses recorded, recoveries recorded, outbox rows added, callbacks called."""

    recorded: int = 0
    recovered: int = 0
    alerts: int = 0
    callbacks: int = 0


class SlaMonitor:
    """Detects SLA and deadline misses, alerts them through the outbox and runs ``sla_miss_callback``.

    ``available`` names the channels alerts may go to (empty: misses are
    recorded and callbacks run, but nothing is added to the outbox).
    """

    name = "sla-monitor"

    def __init__(
        self,
        engine: Engine,
        *,
        config: SlaConfig | None = None,
        available: Collection[str] = (),
        routing: Routing | None = None,
        clock: Clock | None = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        self.engine = engine
        self.config = config or SlaConfig()
        self.available = frozenset(available)
        self.routing = routing or routing_for(self.config.channels)
        self.clock: Clock = clock or SystemClock()
        self.metrics = metrics or NullSink()
        #: Ticks that raised, and callbacks that raised, hung or could not load their DAG.
        self.failures = 0
        self.callback_failures = 0
        self._dags = StoredDags()
        self._pruned_at: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one tick -------------------------------------------------------------------------------
    def run_tick(self) -> SlaTickResult:
        """Detect, recover, call back (see the module doc)."""
        now = self.clock.now()
        since = now - timedelta(seconds=self.config.lookback)
        recorded, alerts = self._detect(now, since)
        recovered, more = self._recover(now, since)
        result = SlaTickResult(recorded, recovered, alerts + more, self._callbacks(now))
        self._prune(now)
        return result

    def _prune(self, now: datetime) -> None:
        if self._pruned_at is not None and now - self._pruned_at < timedelta(hours=1):
            return
        self._pruned_at = now
        keep = timedelta(seconds=max(self.config.retention, self.config.lookback))
        try:
            with begin_read(self.engine) as conn:  # nothing to prune: no write lock taken
                if not store.any_prunable(conn, older_than=now - keep):
                    return
            with begin_write(self.engine) as conn:
                gone = store.prune(conn, older_than=now - keep)
        except Exception:
            log.exception("could not prune old SLA misses; trying again in an hour")
            return
        if gone:
            log.info("pruned %d SLA misses detected more than %s ago", gone, keep)

    def _detect(self, now: datetime, since: datetime) -> tuple[int, int]:
        won: list[Candidate] = []
        added = 0
        with begin_read(self.engine) as conn:  # nothing due: no write lock taken (SQLite has one)
            if not self._due(conn, now, since):
                return 0, 0
        with begin_write(self.engine) as conn:
            found = self._due(conn, now, since)
            silences = active_silences(conn, now=now) if found else []
            for candidate in found:
                task = candidate.kind == TASK_SLA
                decide = decisions.task_missed if task else decisions.run_missed
                if not decide(candidate.state, candidate.end_date, candidate.due_at, now):
                    continue
                dag = self._dags.get(conn, candidate.dag_id)
                finished = decisions.finished_late(candidate.state, candidate.end_date, run=not task)
                pending = task and dag is not None and "sla_miss_callback" in dag.callbacks
                miss_id = store.record(
                    conn, candidate, now=now, callback_pending=pending, recovered_at=finished
                )
                if miss_id is None:
                    continue  # another monitor recorded it first
                won.append(candidate)
                miss = _miss(miss_id, candidate, now, finished)
                for routed in sla_alerts(
                    AlertKind.SLA_MISS, miss, dag, self.routing, self.available, occurred_at=now
                ):
                    silence = matching(silences, miss.dag_id, routed.alert.task_id, now=now)
                    if silence is not None:  # recorded, not sent (windvane alerts list shows it)
                        log.info(
                            "alert %s is silenced by %s; not sent",
                            routed.alert.dedupe_key,
                            silence.describe(),
                        )
                        note = silence.describe()
                        outbox.insert(conn, routed.alert, routed.channel, now=now, state=SILENCED, note=note)
                    elif outbox.add(conn, routed.alert, routed.channel, now=now):
                        added += 1
        for candidate in won:
            what = f"task {candidate.task_id!r}" if candidate.task_id else "the run deadline"
            log.warning(
                "SLA miss: %s of DAG %r in run %s was due at %s (state %s)",
                what,
                candidate.dag_id,
                candidate.run_id,
                candidate.due_at.isoformat(),
                candidate.state,
            )
            if candidate.kind == TASK_SLA:
                self.metrics.incr(SLA_MISSED, dag_id=candidate.dag_id, task_id=candidate.task_id)
        return len(won), added

    def _due(self, conn: Connection, now: datetime, since: datetime) -> list[Candidate]:
        backfill = self.config.check_backfill
        found = store.due_tasks(conn, now=now, since=since, check_backfill=backfill)
        return found + store.due_runs(conn, now=now, since=since, check_backfill=backfill)

    def _recover(self, now: datetime, since: datetime) -> tuple[int, int]:
        recovered = added = 0
        with begin_read(self.engine) as conn:
            if not store.recoveries(conn, since=since):
                return 0, 0
        with begin_write(self.engine) as conn:
            found = store.recoveries(conn, since=since)
            silences = active_silences(conn, now=now) if found else []
            for miss, finished in found:
                if not store.mark_recovered(conn, miss.id, at=finished):
                    continue
                recovered += 1
                if not self.config.recovered_notice:
                    continue
                dag = self._dags.get(conn, miss.dag_id)
                kind = AlertKind.RECOVERED
                for routed in sla_alerts(kind, miss, dag, self.routing, self.available, occurred_at=finished):
                    silence = matching(silences, miss.dag_id, routed.alert.task_id, now=now)
                    if silence is None:
                        added += outbox.add(conn, routed.alert, routed.channel, now=now)
                    else:
                        note = silence.describe()
                        outbox.insert(conn, routed.alert, routed.channel, now=now, state=SILENCED, note=note)
        return recovered, added

    def _callbacks(self, now: datetime) -> int:
        lease = now + timedelta(seconds=self.config.callback_timeout * 2 + 30.0)
        with begin_read(self.engine) as conn:
            if not store.callbacks_pending(conn, now=now):
                return 0
        with begin_write(self.engine) as conn:
            claimed = store.claim_callbacks(conn, now=now, until=lease)
        by_dag: dict[str, list[MissRow]] = {}
        for miss in claimed:
            by_dag.setdefault(miss.dag_id, []).append(miss)
        called = 0
        for dag_id, misses in by_dag.items():
            called += self._call(dag_id, misses)
            with begin_write(self.engine) as conn:
                store.finish_callbacks(conn, [m.id for m in misses], now=self.clock.now())
        return called

    def _call(self, dag_id: str, misses: list[MissRow]) -> int:
        with begin_read(self.engine) as conn:
            dag = self._dags.get(conn, dag_id)
            blocking = store.blocking(conn, sorted({m.dag_run_id for m in misses}))
        if dag is None:
            return 0  # the DAG is gone: nothing to call
        slas = [
            decisions.SlaMiss(
                task_id=m.task_id,
                dag_id=m.dag_id,
                run_id=m.run_id,
                logical_date=m.logical_date,
                timestamp=m.detected_at,
                due_at=m.due_at,
                description=f"{m.task_id} was due at {m.due_at.isoformat()} (state {m.state})",
            )
            for m in misses
        ]
        began = time.monotonic()
        report = call_sla_callback(dag.fileloc, dag_id, slas, blocking, timeout=self.config.callback_timeout)
        self.metrics.observe(CALLBACK_DURATION, time.monotonic() - began, kind="sla_miss")
        if report.ended is not None:
            self.callback_failures += 1
            self.metrics.incr(CALLBACK_FAILURES, kind="sla_miss")
            log.error("sla_miss_callback of DAG %r did not finish: %s", dag_id, report.ended)
            return 0
        for error in report.errors:
            self.callback_failures += 1
            self.metrics.incr(CALLBACK_FAILURES, kind="sla_miss")
            log.error("sla_miss_callback of DAG %r failed:\n%s", dag_id, error)
        return report.called

    # -- the service ----------------------------------------------------------------------------
    def start(self) -> None:
        """Poll in a thread of its own and return."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (a callback in flight is waited for, up to its timeout)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(self.config.callback_timeout + 5.0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_tick()
            except Exception:
                self.failures += 1
                log.exception("SLA monitor: a tick failed; trying again in %g s", self.config.poll_interval)
            self._stop.wait(self.config.poll_interval)


def _miss(miss_id: int, found: Candidate, now: datetime, recovered_at: datetime | None) -> MissRow:
    return MissRow(
        id=miss_id,
        kind=found.kind,
        dag_id=found.dag_id,
        run_id=found.run_id,
        dag_run_id=found.dag_run_id,
        task_id=found.task_id,
        run_type=found.run_type,
        logical_date=found.logical_date,
        due_at=found.due_at,
        detected_at=now,
        state=found.state,
        recovered_at=recovered_at,
        callback_done_at=None,
    )
