"""The catalogue's own rules: names, units, bounded labels, StatsD names, documentation groups."""

from __future__ import annotations

import pytest

from windvane.metrics import catalogue as m
from windvane.metrics.budget import Fleet, label_sets, series_budget, series_per_label_set
from windvane.metrics.docs import group_of
from windvane.metrics.metric import DURATION_BUCKETS, Kind, Metric

AIRFLOW_NAMES = {
    "scheduler_heartbeat",
    "scheduler.scheduler_loop_duration",
    "scheduler.critical_section_duration",
    "scheduler.tasks.starving",
    "scheduler.tasks.executable",
    "dag_processing.total_parse_time",
    "dag_processing.last_duration",
    "dag_processing.import_errors",
    "dagbag_size",
    "dag_processing.processor_timeouts",
    "dag_processing.file_path_queue_size",
    "executor.open_slots",
    "executor.queued_tasks",
    "executor.running_tasks",
    "pool.open_slots",
    "pool.queued_slots",
    "pool.running_slots",
    "pool.starving_tasks",
    "dagrun.schedule_delay",
    "dagrun.first_task_scheduling_delay",
    "dagrun.duration.{state}",
    "ti.start",
    "ti.finish",
    "ti_successes",
    "ti_failures",
    "task.duration",
    "task.queued_duration",
    "task.scheduled_duration",
    "scheduler.tasks.killed_externally",
    "task_instances_without_heartbeats_killed",
    "sla_missed",
}


def test_every_airflow_name_of_the_brief_is_catalogued() -> None:
    missing = AIRFLOW_NAMES - {metric.statsd for metric in m.CATALOGUE}
    assert not missing


def test_airflow_legacy_forms() -> None:
    assert m.DAGRUN_DURATION.statsd_legacy == "dagrun.duration.{state}.{dag_id}"
    assert m.SCHEDULE_DELAY.statsd_legacy == "dagrun.schedule_delay.{dag_id}"
    assert m.PARSE_LAST_DURATION.statsd_legacy == "dag_processing.last_duration.{file}"
    assert m.FIRST_TASK_DELAY.statsd_legacy == "dagrun.{dag_id}.first_task_scheduling_delay"
    assert m.TASK_DURATION.statsd_legacy == "dag.{dag_id}.{task_id}.duration"


@pytest.mark.parametrize("metric", m.CATALOGUE, ids=lambda metric: metric.name)
def test_prometheus_conventions(metric: Metric) -> None:
    assert metric.name.startswith("windvane_")
    assert metric.name.endswith("_total") == (metric.kind is Kind.COUNTER)
    if metric.unit == "seconds":
        assert metric.name.endswith(("_seconds", "_seconds_total"))
    if metric.is_timer:
        assert metric.buckets[0] <= 0.001 and metric.buckets[-1] >= 60
    assert metric.help.strip() and metric.help.endswith(".")
    assert not metric.label_set & {"run_id", "try_number", "job_id", "error"}
    group_of(metric)  # documented somewhere


def test_duration_buckets_span_a_millisecond_to_hours() -> None:
    assert DURATION_BUCKETS[0] == 0.001 and DURATION_BUCKETS[-1] >= 3 * 3600
    assert list(DURATION_BUCKETS) == sorted(DURATION_BUCKETS)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"labels": ("dag_id", "run_id")}, "'run_id' is not allowed"),
        ({"labels": ("try_number",)}, "'try_number' is not allowed"),
        ({"labels": ("colour",)}, "'colour' is not allowed"),
        ({"name": "airflow_x_total"}, "name must be windvane_"),
        ({"name": "windvane_x"}, "a counter's name ends with _total"),
        ({"unit": "seconds"}, "ends with _seconds"),
        ({"labels": ("task_id",)}, "task_id goes with dag_id"),
        ({"labels": ("state",)}, "closed set of states"),
        ({"labels": ("dag_id",), "statsd": "x.{dag_id}"}, "may only embed enumerated labels"),
        ({"statsd_legacy": "x.{pool}"}, "unknown labels"),
    ],
)
def test_bad_definitions_are_refused(kwargs: dict[str, object], problem: str) -> None:
    base: dict[str, object] = {
        "name": "windvane_x_total",
        "kind": Kind.COUNTER,
        "unit": "things",
        "help": "X.",
        "statsd": "x",
    }
    base.update(kwargs)
    with pytest.raises(ValueError, match=problem):
        Metric(**base)  # type: ignore[arg-type]


def test_names_are_unique() -> None:
    assert len(m.BY_NAME) == len(m.CATALOGUE)
    assert len({metric.statsd for metric in m.CATALOGUE}) == len(m.CATALOGUE)


def test_budget_counts_histograms_and_task_pairs() -> None:
    assert series_per_label_set(m.TASK_DURATION) == len(DURATION_BUCKETS) + 3
    assert series_per_label_set(m.TI_START) == 1
    fleet = Fleet(dags=200, tasks=2000)
    assert label_sets(m.TI_FINISH, fleet) == 2000 * 4
    assert label_sets(m.DAGRUN_DURATION, fleet) == 200 * 2 * 3
    assert label_sets(m.POOL_OPEN_SLOTS, Fleet(dags=1, tasks=1, pools=5)) == 5
    assert series_budget(Fleet(dags=200, tasks=2000)) > series_budget(Fleet(dags=100, tasks=1000))
