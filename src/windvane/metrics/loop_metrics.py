"""The metrics of every scheduler pass, from its :class:`~windvane.core.scheduler.observer.LoopStats`.

Emitted on every pass, so each metric is bound to its labels once
(:meth:`~windvane.metrics.sink.MetricsSink.bind`) and unchanged gauges are not
passed on; the pool gauges (and ``windvane_scheduler_tasks_starving``) all come from one
``PoolUsage`` snapshot, taken at most once a second: a pass without one leaves them as they are.
"""

from __future__ import annotations

from windvane.core.scheduler.observer import LoopStats
from windvane.metrics import catalogue as m
from windvane.metrics.queries import QueryCounter
from windvane.metrics.sink import Bound, MetricsSink


class LoopMetrics:
    """Per-pass scheduler metrics into ``sink``; ``queries`` gives the SQL statements of the pass."""

    def __init__(self, sink: MetricsSink, *, executor_name: str, queries: QueryCounter | None = None) -> None:
        self.sink = sink
        self.queries = queries
        b = sink.bind
        self.duration = b(m.LOOP_DURATION)
        self.critical = b(m.CRITICAL_SECTION)
        self.queued = b(m.LOOP_QUEUED)
        self.db_queries = b(m.LOOP_DB_QUERIES)
        self.db_duration = b(m.LOOP_DB_DURATION)
        self.executable = b(m.TASKS_EXECUTABLE)
        self.scheduled = b(m.TASKS_SCHEDULED)
        self.running_runs = b(m.DAGRUNS_RUNNING)
        self.starving = b(m.TASKS_STARVING)
        self.executor = (
            b(m.EXECUTOR_OPEN_SLOTS, executor=executor_name),
            b(m.EXECUTOR_QUEUED, executor=executor_name),
            b(m.EXECUTOR_RUNNING, executor=executor_name),
        )
        self.heartbeat = b(m.SCHEDULER_HEARTBEAT)
        self.queued_timeouts = b(m.QUEUED_TIMEOUTS)
        self.last_heartbeat = b(m.SCHEDULER_LAST_HEARTBEAT)
        self._pools: dict[str, tuple[Bound, Bound, Bound, Bound]] = {}

    def record(self, stats: LoopStats) -> None:
        self.duration.observe(max(0.0, stats.duration))
        self.critical.observe(max(0.0, stats.critical_section))
        self.queued.observe(stats.queued)
        if stats.queued_timeouts:
            self.queued_timeouts.incr(stats.queued_timeouts)
        if self.queries is not None:
            count, seconds = self.queries.take()
            self.db_queries.observe(count)
            self.db_duration.observe(seconds)
        self.executable.gauge(stats.executable)
        self.scheduled.gauge(stats.ready_waiting)
        self.running_runs.gauge(stats.active_runs)
        open_slots, queued, running = self.executor
        open_slots.gauge(stats.executor_open_slots)
        queued.gauge(stats.executor_queued)
        running.gauge(stats.executor_running)
        pools = stats.pools
        if pools is None:  # no snapshot this pass (see SchedulerObserver.pool_usage_every)
            self._heartbeat(stats)
            return
        starving = 0
        if pools.keys() != self._pools.keys():
            self._forget_pools(set(pools))
        for pool, usage in pools.items():
            bound = self._pools.get(pool) or self._bind_pool(pool)
            bound[0].gauge(usage.open_slots)
            bound[1].gauge(usage.queued_slots)
            bound[2].gauge(usage.running_slots)
            bound[3].gauge(usage.starving_tasks)
            starving += usage.starving_tasks
        self.starving.gauge(starving)
        self._heartbeat(stats)

    def _heartbeat(self, stats: LoopStats) -> None:
        if stats.heartbeat_at is not None:
            self.heartbeat.incr()
            self.last_heartbeat.gauge(stats.heartbeat_at)

    def _forget_pools(self, current: set[str]) -> None:
        """Pools deleted since the last pass: forget their series and bindings."""
        gone = [pool for pool in self._pools if pool not in current]
        for pool in gone:
            del self._pools[pool]
        if gone:
            self.sink.retain("pool", current)

    def _bind_pool(self, pool: str) -> tuple[Bound, Bound, Bound, Bound]:
        b = self.sink.bind
        bound = (
            b(m.POOL_OPEN_SLOTS, pool=pool),
            b(m.POOL_QUEUED_SLOTS, pool=pool),
            b(m.POOL_RUNNING_SLOTS, pool=pool),
            b(m.POOL_STARVING_TASKS, pool=pool),
        )
        self._pools[pool] = bound
        return bound
