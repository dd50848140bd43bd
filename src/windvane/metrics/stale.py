"""Forgetting the series of DAGs that are gone: :class:`DagSweeper`.

Per-DAG series (run durations, task counters, ...) would otherwise be exported
until the scheduler restarts, long after their DAG file was deleted. Every
:data:`SWEEP_SECONDS` the scheduler's metrics read the ids of the active DAGs
(one query) and the sink forgets every series whose ``dag_id`` is not one of
them (:meth:`~windvane.metrics.sink.MetricsSink.retain`). StatsD keeps
nothing, so there it just means the DAG's metrics are no longer sent.

Series of the files the DAG processor no longer lists are forgotten after each
of its passes (:mod:`.processor_metrics`); pools that are gone, after each
scheduler pass (:mod:`.loop_metrics`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine, select

from windvane.core.store.engine import begin_read
from windvane.core.store.tables import dag
from windvane.metrics.sink import MetricsSink

log = logging.getLogger("windvane.metrics")

#: How often the active DAGs are read (seconds). A deleted DAG's series go within this long.
SWEEP_SECONDS = 30.0
#: ``dag_id`` values kept although no DAG has them (zombies of runs the scheduler had not loaded).
KEEP_ALWAYS = frozenset({"unknown"})


class DagSweeper:
    """Makes ``sink`` forget the series of DAGs that are not active in ``engine``'s store.

    ``on_sweep`` is told the ``dag_id`` values kept (the observer drops its
    cached bindings of the others). Never raises: a failed query is logged
    and the next sweep tries again.
    """

    def __init__(
        self,
        sink: MetricsSink,
        engine: Engine,
        *,
        interval: float = SWEEP_SECONDS,
        on_sweep: Callable[[frozenset[str]], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.engine = engine
        self.interval = interval
        self.on_sweep = on_sweep
        self._monotonic = monotonic
        self._due = monotonic() + interval
        #: Sweeps done.
        self.sweeps = 0

    def maybe_sweep(self) -> bool:
        """Sweep if :data:`SWEEP_SECONDS` passed since the last one; whether it swept."""
        now = self._monotonic()
        if now < self._due:
            return False
        self._due = now + self.interval
        return self.sweep()

    def sweep(self) -> bool:
        try:
            with begin_read(self.engine) as conn:
                active = conn.execute(select(dag.c.dag_id).where(dag.c.is_active)).scalars().all()
        except Exception:
            log.warning("could not read the active DAGs to forget the series of the others", exc_info=True)
            return False
        keep = frozenset(active) | KEEP_ALWAYS
        self.sink.retain("dag_id", keep)
        if self.on_sweep is not None:
            self.on_sweep(keep)
        self.sweeps += 1
        return True
