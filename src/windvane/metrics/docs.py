"""``docs/metrics.md``, generated from the catalogue (``python -m windvane.metrics`` writes it)."""

from __future__ import annotations

import dataclasses
import json
import textwrap

from windvane.metrics.budget import Fleet, per_dag_and_task, series_budget
from windvane.metrics.catalogue import CATALOGUE
from windvane.metrics.metric import DURATION_BUCKETS, PROCESS_SERVICES, Metric, exported_by
from windvane.metrics.statsd_names import legacy_lost_labels, legacy_mangled_labels, wire_type
from windvane.settings import MetricsSettings

#: Section title -> Prometheus name prefixes, in order; every metric falls in exactly one.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Scheduler", ("windvane_scheduler_",)),
    ("Executor and pools", ("windvane_executor_", "windvane_pool_")),
    ("Celery workers", ("windvane_celery_worker_",)),
    ("DAG runs", ("windvane_dagrun_",)),
    ("Task instances", ("windvane_ti_", "windvane_task_", "windvane_sla_")),
    ("Sensors", ("windvane_sensor_",)),
    ("Alerts and callbacks", ("windvane_alerts_", "windvane_callback_")),
    ("DAG processing", ("windvane_dag_processing_", "windvane_dagbag_", "windvane_dag_processor_")),
    ("Metrics about metrics", ("windvane_build_info", "windvane_metrics_")),
)

HEADER = """# Metrics

<!-- Generated from src/windvane/metrics/catalogue.py; do not edit. Regenerate with:
     python -m windvane.metrics   (from the repository root; also writes compose/statsd-mapping.yml) -->

Windvane measures its scheduler loop, executor, pools, DAG runs, task instances,
sensors and DAG processing. Every metric is defined once, in
`src/windvane/metrics/catalogue.py`, and goes to either backend or both:

* **Prometheus** (recommended): each process serves `/metrics` with labels and
  base units (seconds; timers are histograms).
* **StatsD**: Airflow's short metric names with labels as DogStatsD tags (the
  default), or Airflow's legacy dotted names; timers in milliseconds. Through
  statsd_exporter and `compose/statsd-mapping.yml`, tagged StatsD yields the
  very names, labels and values of the Prometheus endpoint.

## Turning metrics on

In `$WINDVANE_HOME/windvane.toml` (every key, with its default; the README
shows the same block):
"""

BODY = """
**Prometheus.** Every process that runs the scheduler or the DAG processor
serves its own `http://<prometheus_host>:<prometheus_port>/metrics`; give each
process on a host its own port. A port already in use is logged, counted in
`windvane_metrics_errors_total{backend="prometheus",reason="port_in_use"}`
(sent to StatsD when it is on) and the process goes on without the endpoint.
LocalExecutor workers need no multiprocess mode: each worker reports every try
to the scheduler (start, end, state, times) and the scheduler records the task
metrics, so one process serves them all. A scrape is written on the
scheduler's process, from the sink's own tables: each series' label text is
built once, its lines are written again only when its value changed since the
last scrape, and the text is gzipped (level 1) only when the scraper asks. With
1,000 task ids (1.4 MB of text) a scrape costs ~5 ms of CPU when little moved
and ~30 ms when every series is new, where `prometheus_client`'s generic path
took ~130-200 ms (`bench/b_metrics_parts.py`). The bytes are the same as
`prometheus_client` writes, in the text format and in OpenMetrics (what
Prometheus asks for); other formats and `name[]` filters go to
`prometheus_client`.

**Which endpoint exports what.** Each metric has an owner, the service that
emits it (the Owner column below); a process's endpoint exports the metrics of
the services it runs, plus `windvane_build_info` and
`windvane_metrics_errors_total`, and nothing else at 0:

OWNERS
`windvane standalone` and `windvane scheduler` run a scheduler process and fork
a DAG processor process (the scheduler never imports user code): together
their two endpoints export the whole catalogue. Series of DAG files the DAG
processor no longer lists go after its next pass; series of deactivated or
deleted DAGs within 30 s (one query for the active DAG ids); series of
deleted pools within a second. The pool gauges (and
`windvane_scheduler_tasks_starving`) come from a snapshot of every pool the
scheduler takes at most once a second, not on every pass.

**StatsD.** Names get the `statsd_prefix` (`windvane.` by default). With
`statsd_datadog_tags = true` (the default), a metric is sent under its short
name with its labels as DogStatsD tags, e.g.
`windvane.ti.finish:1|c|#dag_id:etl,task_id:load,state:success`; statsd_exporter,
the Datadog agent and Telegraf (`datadog_extensions`) read them. Tag values are
sent as they are (UTF-8) except `,`, `|` and control characters, and a
leading `#`, which become `_`; an empty value is sent as `_`. With
`statsd_datadog_tags = false` a metric is sent under Airflow's legacy name,
with label values in the name (`windvane.ti.finish.etl.load.success:1|c`), for
StatsD servers without tags (Graphite-era dashboards built on Airflow's names);
see [Legacy dotted names](#legacy-dotted-names-what-they-cannot-carry) for what
that form loses. Use one form per deployment: statsd_exporter refuses a
second label set for a name it has seen. Timers (histograms in seconds) are sent as `|ms` in
milliseconds, count histograms as `|h`, gauges as `|g`. A gauge is sent when it
changes, and again after 10 s unchanged. The scheduler's lines are coalesced:
the lines of its passes go out together, in packets of at most 1432 bytes, at
most every 0.25 s (or once 64 lines wait), so a StatsD line may arrive up to
0.25 s after the event (when the scheduler goes idle right then, with its next
pass, at most `idle_sleep_seconds` later); what is still waiting is sent when
the scheduler stops. The scheduler's run and try events are turned into
metrics in batches too: kept until a pass finds the oldest 0.25 s old (or 256
waiting), so a run or task metric reaches either backend up to 0.25 s plus one
pass after the event; what is kept is emitted when the scheduler stops.
`statsd_allow_list` and `statsd_block_list` hold
regular expressions searched anywhere in the lower-cased short name (as in
Airflow 3); when an allow list is set the block list is ignored. A host that
cannot be resolved is logged once and StatsD is off for the process (counted in
`windvane_metrics_errors_total{backend="statsd",reason="unresolvable_host"}`).

**statsd_exporter.** `compose/statsd-mapping.yml` maps both StatsD forms onto
the names and labels of the native endpoint (timers become histograms with the
same buckets, in seconds; count histograms are sent as `|h`, which
statsd_exporter does not scale). It expects the prefix `windvane`; for another
one run `python -m windvane.metrics --mapping-prefix PREFIX > mapping.yml`.
`tests/metrics/test_statsd_parity.py` sends every catalogue metric over UDP,
replays the packets through this file with a model of statsd_exporter's
mapping rules and compares every sample with the native registry: equal in
tagged mode, and in legacy mode equal but for what the next table lists.

**Cost.** `bench/b_metrics_overhead.py` runs B2 (1 -> 1000 -> 1 tasks on the
LocalExecutor) with metrics off and with both backends on (and `/metrics`
scraped every 15 s); the target is at most 3% of the CPU per task instance
(scheduler, workers and task processes), on SQLite and on PostgreSQL. Whole
runs spread too much to show 3 %, so the verdict is on the metrics work itself:
the thread CPU of every call at the scheduler's metrics boundary (the events
built for the observer, its hooks, each pass's metrics) in the running
scheduler, on minus off, plus the statement counter and the scrape, as a share
of the CPU per task instance with metrics off. The numbers are in
[benchmarks.md](benchmarks.md). What keeps it low on the
scheduler: each metric is bound to its labels once (checked, its StatsD line
head rendered, its Prometheus series created) and a task's series are held
together and bound on first use, so a try event costs one lookup and a call
per backend; run and try events are worked through in batches (in a row they
cost less than one by one between the scheduler's own work: about 40 % less in B2);
a bound series keeps a handful of small objects (the garbage
collector walks each on every full collection); StatsD lines are coalesced
into few packets; unchanged gauges are not passed on; the pool snapshot is
taken at most once a second; the SQL statements of a pass are counted and
timed by one callback per statement (SQLAlchemy's `do_execute` dialect
event: ~1 µs of CPU, where `before`/`after_cursor_execute` cost ~7), and the
plain-SQL statements run on the raw DBAPI connection, which fire no SQLAlchemy
event, report themselves to the same counter at the same cost (an engine
execution option carries it).
`bench/b_metrics_parts.py` shows the parts.

## Latency, phase by phase

```
run due (run_after) --schedule_delay--> run created
run due (scheduled) or started (others) --first_task_scheduling_delay--> its first TI queued
TI ready (scheduled) --scheduled_duration--> TI queued --queued_duration--> try started
try started --task.duration--> try ended
```

All are measured on the scheduler's side, so executor pickup time
(`queued_duration`) never hides in the scheduler's numbers. Backfill runs carry
`run_type="backfill"`; schedule delay covers scheduled runs only (a catch-up run
reports how late it is).
"""

QUERIES = """
## Queries worth alerting on

| What | PromQL |
| --- | --- |
| Scheduler down (not idle) | `time() - windvane_scheduler_last_heartbeat_timestamp_seconds > 60` |
| Scheduler heartbeats stopped | `rate(windvane_scheduler_heartbeat_total[2m]) == 0` |
| Schedule delay p95 | `histogram_quantile(0.95, sum by (le) (rate(\
windvane_dagrun_schedule_delay_seconds_bucket[5m])))` |
| Task failure ratio | `sum(rate(windvane_ti_failures_total[10m])) \
/ sum(rate(windvane_ti_finish_total[10m]))` |
| Starving pools | `windvane_pool_starving_tasks > 0` |
| Import errors | `windvane_dag_processing_import_errors > 0` |
| Slow loop | `histogram_quantile(0.99, rate(windvane_scheduler_loop_duration_seconds_bucket[5m])) > 1` |
"""


def settings_toml() -> str:
    """Every ``[metrics]`` key with its default, as a TOML block (docs and README show it)."""
    lines = ["```toml", "# $WINDVANE_HOME/windvane.toml (or WINDVANE__METRICS__<KEY>=... in the environment)"]
    lines.append("[metrics]")
    for f in dataclasses.fields(MetricsSettings):
        default = f.default
        if isinstance(default, bool):
            value = str(default).lower()
        elif isinstance(default, str):
            value = json.dumps(default)
        elif isinstance(default, tuple):
            value = json.dumps(list(default))
        else:
            value = str(default)
        lines += [
            "# " + line for line in textwrap.wrap(f.metadata.get("help", ""), 96, break_on_hyphens=False)
        ]
        lines.append(f"{f.name} = {value}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def owners_table() -> str:
    rows = ["| Process (`service` label) | Runs | Exports |", "| --- | --- | --- |"]
    for process, services in PROCESS_SERVICES.items():
        names = sorted(s.value for s in services)
        count = sum(1 for metric in CATALOGUE if exported_by(metric, services))
        rows.append(f"| `{process}` | {', '.join(names)} | {count} of {len(CATALOGUE)} metrics |")
    return "\n".join(rows) + "\n\n"


def legacy_section() -> str:
    """What the legacy dotted StatsD form cannot carry, per metric (tested against a replay)."""
    rows = [
        "\n## Legacy dotted names: what they cannot carry\n",
        "With `statsd_datadog_tags = false` label values travel inside the name, in Airflow's legacy",
        "names. Through `compose/statsd-mapping.yml` the result differs from the native endpoint in",
        "two ways only, both inherent to the form:\n",
        "* label values in a name keep only `[A-Za-z0-9_-]` (task ids also keep `.`, for task",
        "  groups): every other character becomes `_` (`team.etl` -> `team_etl`, `sleepy.py` ->",
        "  `sleepy_py`), because a dot inside a value cannot be told from the dots between names;",
        "* the labels below are lost (their series add up), because Airflow's legacy name has no",
        "  place for them and changing those names would break the dashboards the form exists for.\n",
        "| Prometheus | Labels lost in the legacy form | Values made name-safe |",
        "| --- | --- | --- |",
    ]
    for metric in CATALOGUE:
        lost = legacy_lost_labels(metric)
        if lost:
            mangled = ", ".join(f"`{k}`" for k in legacy_mangled_labels(metric)) or "-"
            rows.append(f"| `{metric.name}` | {', '.join(f'`{k}`' for k in lost)} | {mangled} |")
    rows.append("")
    return "\n".join(rows)


def group_of(metric: Metric) -> str:
    for title, prefixes in GROUPS:
        if metric.name.startswith(prefixes):
            return title
    raise LookupError(f"{metric.name} is in no documentation group")


def _settings_table() -> str:
    rows = ["| Key | Default | Meaning |", "| --- | --- | --- |"]
    for f in dataclasses.fields(MetricsSettings):
        default = f.default if f.default != () else "(empty)"
        rows.append(f"| `{f.name}` | `{default}` | {f.metadata.get('help', '')} |")
    return "\n".join(rows) + "\n"


def _statsd_cell(metric: Metric) -> str:
    cell = f"`{metric.statsd}`"
    if metric.statsd_legacy is not None:
        cell += f"<br>legacy `{metric.statsd_legacy}`"
    return cell


def _type_cell(metric: Metric) -> str:
    return f"{metric.kind.value} (`{wire_type(metric)}`)"


def _labels_cell(metric: Metric) -> str:
    parts = []
    for key in metric.labels:
        closed = metric.values_of(key)
        parts.append(f"`{key}`" + (f" ({', '.join(closed)})" if closed else ""))
    return ", ".join(parts) or "-"


def metrics_tables() -> str:
    out = []
    for title, _ in GROUPS:
        out += [
            f"\n### {title}\n",
            "| Prometheus | StatsD | Type | Unit | Labels | Owner | Meaning |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for metric in CATALOGUE:
            if group_of(metric) == title:
                out.append(
                    f"| `{metric.name}` | {_statsd_cell(metric)} | {_type_cell(metric)} | "
                    f"{metric.unit} | {_labels_cell(metric)} | {metric.owner.value} | {metric.help} |"
                )
    return "\n".join(out) + "\n"


def _extra(what: str) -> int:
    one = Fleet(dags=0, tasks=0, files=1)
    return series_budget(dataclasses.replace(one, **{what: getattr(one, what) + 1})) - series_budget(one)


def budget_section() -> str:
    base, per_dag, per_task = per_dag_and_task()
    hist = len(DURATION_BUCKETS) + 3
    lines = [
        "\n## Series budget\n",
        "The most series one deployment can expose, counted from the catalogue (histograms: "
        f"{len(DURATION_BUCKETS)} buckets + `+Inf`, `_sum`, `_count` = {hist} series per label set; "
        "`(dag_id, task_id)` counts once per task; every closed label at all its values):\n",
        f"    series <= {base} + {per_dag} x DAGs + {per_task} x tasks\n",
        f"with one pool, one executor, one file per DAG and 3 alert channels; add {_extra('pools')} "
        f"per extra pool, {_extra('executors')} per extra executor and {_extra('files')} per extra file.\n",
        "| DAGs | tasks | series budget |",
        "| --- | --- | --- |",
    ]
    for dags, tasks in ((10, 100), (200, 2000), (1000, 10000)):
        lines.append(f"| {dags} | {tasks} | {series_budget(Fleet(dags=dags, tasks=tasks)):,} |")
    lines.append(
        "\nMost of it is per-task `windvane_task_duration_seconds` and the per-DAG run histograms. "
        "`tests/metrics` runs 200 DAGs x 10 tasks (manual runs, some failing) through the scheduler "
        "and checks the scraped `/metrics` against the budget: about 48,000 series, 4 MB. No label "
        "ever holds a run id, a try number or error text.\n"
    )
    return "\n".join(lines)


def render_docs() -> str:
    return (
        HEADER
        + "\n"
        + settings_toml()
        + "\n"
        + _settings_table()
        + BODY.replace("OWNERS\n", owners_table())
        + legacy_section()
        + "\n## Metrics\n"
        + metrics_tables()
        + budget_section()
        + QUERIES
    )
