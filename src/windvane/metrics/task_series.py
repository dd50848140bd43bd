"""The per-task and per-DAG series of the scheduler's metrics, each label set bound once.

Every try event touches up to four series of one ``(dag_id, task_id)``
(``ti.start``, the duration, ``ti.finish`` by state, successes or failures).
:class:`TaskSeries` holds them all for one task, so an event costs one dict
lookup (:class:`SeriesBook`) instead of one per metric, and each series is bound
(:meth:`~windvane.metrics.sink.MetricsSink.bind`: checked, rendered, created in
every backend) only when first emitted: a task that never fails has no failure
series. :class:`DagSeries` does the same for the per-DAG latency histograms.

Why it matters: with 1,000 new task ids in one run (B2), creating series is
most of what metrics cost the scheduler, and every object kept per series is
one more for the garbage collector to walk on each full collection.
"""

from __future__ import annotations

from windvane.metrics import catalogue as m
from windvane.metrics.metric import Metric
from windvane.metrics.sink import Bound, MetricsSink


class TaskSeries:
    """The series of one ``(dag_id, task_id)``, bound on first use."""

    __slots__ = (
        "_duration",
        "_failures",
        "_finish",
        "_pokes",
        "_reschedules",
        "_sink",
        "_start",
        "_successes",
        "_timeouts",
        "dag_id",
        "task_id",
    )

    def __init__(self, sink: MetricsSink, dag_id: str, task_id: str) -> None:
        self._sink, self.dag_id, self.task_id = sink, dag_id, task_id
        self._start: Bound | None = None
        self._duration: Bound | None = None
        #: ti.finish by state: most tasks only ever finish ``success``, so no dict until needed.
        self._finish: tuple[str, Bound] | dict[str, Bound] | None = None
        self._successes: Bound | None = None
        self._failures: Bound | None = None
        self._pokes: Bound | None = None
        self._reschedules: Bound | None = None
        self._timeouts: Bound | None = None

    def _bind(self, metric: Metric) -> Bound:
        return self._sink.bind(metric, dag_id=self.dag_id, task_id=self.task_id)

    def start(self) -> Bound:
        bound = self._start
        if bound is None:
            bound = self._start = self._bind(m.TI_START)
        return bound

    def duration(self) -> Bound:
        bound = self._duration
        if bound is None:
            bound = self._duration = self._bind(m.TASK_DURATION)
        return bound

    def finish(self, state: str) -> Bound:
        held = self._finish
        if isinstance(held, tuple):
            if held[0] == state:
                return held[1]
            held = self._finish = {held[0]: held[1]}
        elif held is not None:
            bound = held.get(state)
            if bound is not None:
                return bound
        bound = self._sink.bind(m.TI_FINISH, dag_id=self.dag_id, task_id=self.task_id, state=state)
        if held is None:
            self._finish = (state, bound)
        else:
            held[state] = bound
        return bound

    def successes(self) -> Bound:
        bound = self._successes
        if bound is None:
            bound = self._successes = self._bind(m.TI_SUCCESSES)
        return bound

    def failures(self) -> Bound:
        bound = self._failures
        if bound is None:
            bound = self._failures = self._bind(m.TI_FAILURES)
        return bound

    def sensor_pokes(self) -> Bound:
        bound = self._pokes
        if bound is None:
            bound = self._pokes = self._bind(m.SENSOR_POKES)
        return bound

    def sensor_reschedules(self) -> Bound:
        bound = self._reschedules
        if bound is None:
            bound = self._reschedules = self._bind(m.SENSOR_RESCHEDULES)
        return bound

    def sensor_timeouts(self) -> Bound:
        bound = self._timeouts
        if bound is None:
            bound = self._timeouts = self._bind(m.SENSOR_TIMEOUTS)
        return bound


class DagSeries:
    """The per-DAG latency histograms of one ``dag_id``, bound on first use."""

    __slots__ = ("_queued", "_scheduled", "_sink", "dag_id")

    def __init__(self, sink: MetricsSink, dag_id: str) -> None:
        self._sink, self.dag_id = sink, dag_id
        self._scheduled: Bound | None = None
        self._queued: Bound | None = None

    def scheduled_duration(self) -> Bound:
        bound = self._scheduled
        if bound is None:
            bound = self._scheduled = self._sink.bind(m.TASK_SCHEDULED_DURATION, dag_id=self.dag_id)
        return bound

    def queued_duration(self) -> Bound:
        bound = self._queued
        if bound is None:
            bound = self._queued = self._sink.bind(m.TASK_QUEUED_DURATION, dag_id=self.dag_id)
        return bound


class SeriesBook:
    """The :class:`TaskSeries` and :class:`DagSeries` seen so far, forgotten with their DAG."""

    def __init__(self, sink: MetricsSink) -> None:
        self.sink = sink
        self.tasks: dict[tuple[str, str], TaskSeries] = {}
        self.dags: dict[str, DagSeries] = {}

    def task(self, dag_id: str, task_id: str) -> TaskSeries:
        key = (dag_id, task_id)
        series = self.tasks.get(key)
        if series is None:
            series = self.tasks[key] = TaskSeries(self.sink, dag_id, task_id)
        return series

    def dag(self, dag_id: str) -> DagSeries:
        series = self.dags.get(dag_id)
        if series is None:
            series = self.dags[dag_id] = DagSeries(self.sink, dag_id)
        return series

    def forget_dags(self, keep: frozenset[str]) -> None:
        """Drop the series objects of DAGs not in ``keep`` (the sink forgot their series)."""
        self.tasks = {key: s for key, s in self.tasks.items() if key[0] in keep}
        self.dags = {dag_id: s for dag_id, s in self.dags.items() if dag_id in keep}

    def dag_ids(self) -> set[str]:
        """The DAGs with series objects held (for tests)."""
        return {key[0] for key in self.tasks} | set(self.dags)
