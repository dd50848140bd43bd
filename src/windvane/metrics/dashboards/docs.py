"""``docs/observability.md``: how to run the stack, and every dashboard and panel described.

The panel descriptions come from the same :class:`~.model.Panel` objects the
JSON is rendered from, so the page cannot drift from the dashboards.
"""

from __future__ import annotations

from collections.abc import Sequence

from windvane.metrics.dashboards.model import Dashboard, Panel

HEADER = """# Observability: dashboards, alert rules and the compose stack

<!-- Generated from src/windvane/metrics/dashboards/; do not edit. Regenerate with:
     python -m windvane.metrics dashboards --write   (from the repository root) -->

Windvane ships six Grafana dashboards (`dashboards/*.json`), Prometheus alert
and recording rules (`dashboards/prometheus/windvane-rules.yml`) and a Docker
Compose stack (`compose/`) that runs everything together. The dashboards are
generated from the metrics catalogue (`src/windvane/metrics/catalogue.py`, see
[metrics.md](metrics.md)), so every query uses a metric Windvane emits, with
the right function for its kind: `rate()`/`increase()` on counters,
`histogram_quantile()` over `sum by (le, ...)` of bucket rates on histograms,
gauges as they are; durations are in seconds.

## Running the stack

<!-- docs: skip needs Docker and minutes; tests/metrics/test_compose.py checks the stack without it -->
```sh
cd compose
docker compose up -d --build
```

| Open | What |
| --- | --- |
| <http://127.0.0.1:3000> | Grafana: six dashboards (folder *Windvane*), anonymous viewer; admin/admin edits |
| <http://127.0.0.1:9090> | Prometheus: targets, the rules and their alerts |
| <http://127.0.0.1:9093> | Alertmanager: firing alerts (they are also mailed to Mailpit) |
| <http://127.0.0.1:8025> | Mailpit: every email Windvane and Alertmanager send |
| <http://127.0.0.1:9102/metrics> | statsd-exporter (with `--profile statsd`, below) |

The stack runs PostgreSQL, a one-shot `windvane db migrate`, the scheduler
(`windvane scheduler --no-processor`, metrics on :9464; LocalExecutor workers
and the alert dispatcher run in its container), the DAG processor
(`windvane dag-processor`, metrics on :9465), Prometheus (scraping both
Windvane endpoints every 15 s, `windvane-rules.yml` loaded), Alertmanager
(mailing every alert to Mailpit), Grafana (data source and dashboards
provisioned, anonymous viewers) and Mailpit as the SMTP server of Windvane's
own alerts. `examples/dags` is mounted as the DAGs folder: edit a file there
and the DAG processor picks it up. `docker compose down -v` removes the stack
and its data.

**The StatsD path.** The same dashboards work over StatsD, through
statsd_exporter and the generated `compose/statsd-mapping.yml` (same names and
labels as the native endpoint). Run it instead of the native endpoints, so
that series are not counted twice:

<!-- docs: skip needs Docker; tests/metrics/test_compose.py checks the statsd profile's wiring -->
```sh
WINDVANE_STATSD=true WINDVANE_NATIVE_METRICS=false docker compose --profile statsd up -d
```

## Using the dashboards in an existing Grafana

1. Point Prometheus at every Windvane process's `/metrics` (scheduler and DAG
   processor: `[metrics] prometheus_on = true`, see [metrics.md](metrics.md)) or
   at a statsd_exporter fed with `compose/statsd-mapping.yml`.
2. In Grafana: *Dashboards -> New -> Import*, upload a file from `dashboards/`,
   and pick your Prometheus data source. Or provision the folder: a file
   provider pointing at a copy of `dashboards/` (as
   `compose/grafana/provisioning/dashboards/windvane.yml` does).
3. Load the rules: add `windvane-rules.yml` to `rule_files:` in
   `prometheus.yml`, and an `alerting:` section pointing at your Alertmanager.

Every dashboard has a *Data source* variable (any Prometheus), an *Instance*
variable (the scraped `instance` label), and, where they apply, *DAG*, *Task*
and *Pool*; each is multi-select with *All*. Every panel's description (the
(i) next to its title) says what question it answers. Dashboards link to one
another through the *Windvane* menu, keeping the time range and variables.

## Alert rules

`dashboards/prometheus/windvane-rules.yml` holds 11 recording rules (group
`windvane-recording`: fleet-level rates, ratios and p95s, named
`windvane:<what>:<window>`) and 10 alerts (group `windvane-alerts`). The
recorded series are the fleet-wide versions of what the dashboards plot; the
alerts use them, and so can long-range or ad-hoc queries on a big fleet. The
dashboards themselves query the raw series, so that their variables filter
every panel and they work in a Grafana whose Prometheus has not loaded the
rules.

| Alert | Fires when |
| --- | --- |
| `WindvaneSchedulerHeartbeatAbsent` | no scheduler heartbeat for 2 minutes (or no heartbeat series at all) |
| `WindvaneSchedulerLoopSlow` | the scheduler loop p95 is above 5 s for 10 minutes |
| `WindvaneImportErrors` | a DAG file has had an import error for 5 minutes |
| `WindvanePoolStarving` | a pool has had starving tasks for 15 minutes |
| `WindvaneScheduleDelayHigh` | the schedule delay p95 is above 5 minutes for 10 minutes |
| `WindvaneTaskFailureRatioHigh` | over 25% of finished tries failed in 10 minutes (5 failures or more) |
| `WindvaneAlertDeliveryFailing` | a channel failed deliveries and delivered none for 10 minutes |
| `WindvaneAlertsDead` | an alert was given up on (lost) in the last 15 minutes |
| `WindvaneAlertOutboxGrowing` | the outbox holds more than 10 alerts and grew over 30 minutes |
| `WindvaneSlaMissed` | a task missed its SLA in the last 10 minutes |

`promtool test rules dashboards/prometheus/tests/windvane-rules.test.yml` runs
their unit tests (also run by `tests/metrics/test_rules.py`).

## Dashboards
"""

PROOF = """
## The proof ({panels} panels, {queries} queries, 11 recording rules)

`tests/metrics/test_observability_proof.py` starts a real Prometheus (scraping
every second, these rules loaded, `for:` durations shortened) and a real
Alertmanager on free loopback ports, and a `windvane standalone` running DAGs
that succeed, fail, retry and starve a one-slot pool, with a DAG file that
fails to import and alerting on (email to a local SMTP server, a webhook that
refuses connections). It then evaluates every panel's query (Grafana's
`$__rate_interval` and `$__range` replaced by fixed windows, variables by
`.*`) and every recording rule through Prometheus's HTTP API and asserts each
returns a finite value, and reads firing alerts from Alertmanager's API
(at least `WindvaneImportErrors`, `WindvaneAlertDeliveryFailing` and
`WindvaneAlertsDead`). Panels that cannot have data in such a run are listed in
that test with the reason: *Zombies and externally killed tries* (a healthy
run has neither) and, while the SLA monitor service is not installed, the two
*SLA misses* panels (with it, they must have data and `WindvaneSlaMissed` must
reach Alertmanager). Every other panel query, template variable and
recording rule is proven.
"""


def render_docs(boards: Sequence[Dashboard]) -> str:
    parts = [HEADER]
    for board in boards:
        parts.append(_dashboard(board))
    panels = [panel for board in boards for panel in board.panels]
    queries = sum(len(panel.targets) for panel in panels)
    parts.append(PROOF.format(panels=len(panels), queries=queries))
    return "\n".join(parts)


def _dashboard(board: Dashboard) -> str:
    names = ", ".join(f"*{v.label}*" for v in board.variables)
    lines = [
        f"### {board.title.removeprefix('Windvane / ')} (`dashboards/{board.file}`, uid `{board.uid}`)",
        "",
        board.question,
        "",
        f"Variables: *Data source*, {names}.",
        "",
    ]
    for row in board.rows:
        lines += [f"**{row.title}**", "", "| Panel | Question it answers | Unit |", "| --- | --- | --- |"]
        lines += [f"| {p.title} | {p.question} | {_unit(p)} |" for p in row.panels]
        lines.append("")
    if board.skipped:
        missing = ", ".join(f"{title} (`{name}`)" for title, name in board.skipped)
        lines += [f"Not shown until their metric is catalogued: {missing}.", ""]
    return "\n".join(lines)


def _unit(panel: Panel) -> str:
    return {"s": "seconds", "percentunit": "ratio", "suffix:/s": "per second", "short": "count"}.get(
        panel.unit, panel.unit
    )
