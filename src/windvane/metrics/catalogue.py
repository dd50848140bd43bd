"""Every metric Windvane emits, defined once.

Backends, ``docs/metrics.md`` and ``compose/statsd-mapping.yml`` are all built
from :data:`CATALOGUE`; a metric that is not here cannot be emitted (see
:mod:`windvane.metrics.sink`). StatsD names are Airflow's where Airflow has
the metric. Changing a Prometheus name breaks dashboards: add a new metric and
retire the old one instead.
"""

from __future__ import annotations

from windvane.metrics.catalogue_alerting import ALERTING
from windvane.metrics.catalogue_celery import CELERY
from windvane.metrics.catalogue_executor import EXECUTOR_EXTRA
from windvane.metrics.catalogue_executor import TRY_HOST_RETIREMENTS as TRY_HOST_RETIREMENTS
from windvane.metrics.catalogue_processor import DAGBAG_SIZE as DAGBAG_SIZE
from windvane.metrics.catalogue_processor import FILE_QUEUE_SIZE as FILE_QUEUE_SIZE
from windvane.metrics.catalogue_processor import IMPORT_ERRORS as IMPORT_ERRORS
from windvane.metrics.catalogue_processor import PARSE_LAST_DURATION as PARSE_LAST_DURATION
from windvane.metrics.catalogue_processor import PARSE_TOTAL_TIME as PARSE_TOTAL_TIME
from windvane.metrics.catalogue_processor import PROCESSOR
from windvane.metrics.catalogue_processor import (
    PROCESSOR_DB_TRANSIENT_ERRORS as PROCESSOR_DB_TRANSIENT_ERRORS,
)
from windvane.metrics.catalogue_processor import PROCESSOR_HEARTBEAT as PROCESSOR_HEARTBEAT
from windvane.metrics.catalogue_processor import PROCESSOR_LAST_RUN as PROCESSOR_LAST_RUN
from windvane.metrics.catalogue_processor import PROCESSOR_TEMPLATE_RESTARTS as PROCESSOR_TEMPLATE_RESTARTS
from windvane.metrics.catalogue_processor import PROCESSOR_TIMEOUTS as PROCESSOR_TIMEOUTS
from windvane.metrics.metric import COUNT_BUCKETS, DURATION_BUCKETS, LOOP_BUCKETS, Kind, Metric

C, G, H = Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM
DAG_TASK = ("dag_id", "task_id")
TRY_STATES = ("success", "failed", "up_for_retry", "skipped")

# -- scheduler ------------------------------------------------------------------------------------
SCHEDULER_HEARTBEAT = Metric(
    "windvane_scheduler_heartbeat_total",
    C,
    "heartbeats",
    "Heartbeats the scheduler wrote to its job row; alert when its rate drops to 0.",
    "scheduler_heartbeat",
)
SCHEDULER_LAST_HEARTBEAT = Metric(
    "windvane_scheduler_last_heartbeat_timestamp_seconds",
    G,
    "seconds",
    "Unix time of the scheduler's latest heartbeat: an old value means dead, a recent one with no work "
    "means idle.",
    "scheduler.last_heartbeat_timestamp",
)
LOOP_DURATION = Metric(
    "windvane_scheduler_loop_duration_seconds",
    H,
    "seconds",
    "Duration of one scheduler pass.",
    "scheduler.scheduler_loop_duration",
    buckets=LOOP_BUCKETS,
)
CRITICAL_SECTION = Metric(
    "windvane_scheduler_critical_section_duration_seconds",
    H,
    "seconds",
    "Time one pass spent choosing what to queue and committing it (the write transaction).",
    "scheduler.critical_section_duration",
    buckets=LOOP_BUCKETS,
)
LOOP_DB_QUERIES = Metric(
    "windvane_scheduler_loop_db_queries",
    H,
    "queries",
    "SQL statements the scheduler process ran during one pass.",
    "scheduler.loop_db_queries",
    buckets=COUNT_BUCKETS,
)
LOOP_DB_DURATION = Metric(
    "windvane_scheduler_loop_db_duration_seconds",
    H,
    "seconds",
    "Time the scheduler process spent in SQL statements during one pass.",
    "scheduler.loop_db_duration",
    buckets=LOOP_BUCKETS,
)
LOOP_QUEUED = Metric(
    "windvane_scheduler_loop_queued_tasks",
    H,
    "task instances",
    "Task instances queued by one pass.",
    "scheduler.loop_queued_tasks",
    buckets=COUNT_BUCKETS,
)
RUNS_CREATED = Metric(
    "windvane_scheduler_dagruns_created_total",
    C,
    "runs",
    "Scheduled runs the scheduler created.",
    "scheduler.dagruns.created",
)
TASKS_STARVING = Metric(
    "windvane_scheduler_tasks_starving",
    G,
    "task instances",
    "Ready task instances not queued for lack of a pool slot, at the latest pool snapshot (taken "
    "at most once a second; sum of windvane_pool_starving_tasks).",
    "scheduler.tasks.starving",
)
TASKS_EXECUTABLE = Metric(
    "windvane_scheduler_tasks_executable",
    G,
    "task instances",
    "Task instances the latest pass found runnable under every limit and queued.",
    "scheduler.tasks.executable",
)
TASKS_SCHEDULED = Metric(
    "windvane_scheduler_tasks_scheduled",
    G,
    "task instances",
    "Ready task instances still waiting to be queued after the latest pass (the backlog).",
    "scheduler.tasks.scheduled",
)
DAGRUNS_RUNNING = Metric(
    "windvane_scheduler_dagruns_running",
    G,
    "runs",
    "Runs the scheduler is driving.",
    "scheduler.dagruns.running",
)
ZOMBIES_KILLED = Metric(
    "windvane_scheduler_zombies_killed_total",
    C,
    "task instances",
    "Running tries failed because their worker stopped heartbeating (zombies); dag_id is 'unknown' "
    "for runs this scheduler had not loaded.",
    "task_instances_without_heartbeats_killed",
    DAG_TASK,
)
QUEUED_TIMEOUTS = Metric(
    "windvane_scheduler_tasks_queued_timeout_total",
    C,
    "task instances",
    "Tries the scheduler failed because they stayed queued longer than [scheduler] "
    "task_queued_timeout_seconds without starting (a worker that could not claim them, a lost message).",
    "scheduler.tasks.queued_timeout",
)
DAG_QUARANTINED = Metric(
    "windvane_scheduler_dag_quarantined_total",
    C,
    "DAGs",
    "DAGs the scheduler quarantined because their own data made a step fail (see the DAG file's import "
    "error); each stays out of scheduling until its file changes.",
    "scheduler.dag_quarantined",
    ("dag_id",),
)
DB_TRANSIENT_ERRORS = Metric(
    "windvane_scheduler_db_transient_errors_total",
    C,
    "errors",
    "Transient metadata-database errors (dropped connections, locks, a full disk) the scheduler "
    "rode out by retrying with backoff; it exits only after [database] max_outage_seconds.",
    "scheduler.db_transient_errors",
    (),
)
KILLED_EXTERNALLY = Metric(
    "windvane_scheduler_tasks_killed_externally_total",
    C,
    "task instances",
    "Tries that ended without their outcome being recorded: the claim failed or the row was changed "
    "elsewhere while they ran.",
    "scheduler.tasks.killed_externally",
    DAG_TASK,
)

# -- executor and pools ---------------------------------------------------------------------------
EXECUTOR_OPEN_SLOTS = Metric(
    "windvane_executor_open_slots",
    G,
    "slots",
    "Workloads the executor can still accept.",
    "executor.open_slots",
    ("executor",),
    "executor.open_slots.{executor}",
)
EXECUTOR_QUEUED = Metric(
    "windvane_executor_queued_tasks",
    G,
    "task instances",
    "Workloads the executor accepted but not started.",
    "executor.queued_tasks",
    ("executor",),
    "executor.queued_tasks.{executor}",
)
EXECUTOR_RUNNING = Metric(
    "windvane_executor_running_tasks",
    G,
    "task instances",
    "Workloads the executor is running.",
    "executor.running_tasks",
    ("executor",),
    "executor.running_tasks.{executor}",
)
EXECUTOR_DB_TRANSIENT_ERRORS = Metric(
    "windvane_executor_db_transient_errors_total",
    C,
    "errors",
    "Transient metadata-database errors (dropped connections, locks, a full disk) the executor's "
    "workers rode out claiming, heartbeating or recording tries (LocalExecutor; Celery workers serve "
    "windvane_celery_worker_db_transient_errors_total).",
    "executor.db_transient_errors",
    ("executor",),
    "executor.db_transient_errors.{executor}",
)
POOL_OPEN_SLOTS = Metric(
    "windvane_pool_open_slots",
    G,
    "slots",
    "Free slots of the pool (capacity - queued - running).",
    "pool.open_slots",
    ("pool",),
    "pool.open_slots.{pool}",
)
POOL_QUEUED_SLOTS = Metric(
    "windvane_pool_queued_slots",
    G,
    "slots",
    "Slots of the pool taken by queued task instances.",
    "pool.queued_slots",
    ("pool",),
    "pool.queued_slots.{pool}",
)
POOL_RUNNING_SLOTS = Metric(
    "windvane_pool_running_slots",
    G,
    "slots",
    "Slots of the pool taken by running task instances.",
    "pool.running_slots",
    ("pool",),
    "pool.running_slots.{pool}",
)
POOL_STARVING_TASKS = Metric(
    "windvane_pool_starving_tasks",
    G,
    "task instances",
    "Ready task instances waiting because the pool has no free slot.",
    "pool.starving_tasks",
    ("pool",),
    "pool.starving_tasks.{pool}",
)

# -- DAG runs -------------------------------------------------------------------------------------
SCHEDULE_DELAY = Metric(
    "windvane_dagrun_schedule_delay_seconds",
    H,
    "seconds",
    "From when a scheduled run fell due (run_after) to when the scheduler created it. Scheduled runs only.",
    "dagrun.schedule_delay",
    ("dag_id",),
    "dagrun.schedule_delay.{dag_id}",
    DURATION_BUCKETS,
)
FIRST_TASK_DELAY = Metric(
    "windvane_dagrun_first_task_scheduling_delay_seconds",
    H,
    "seconds",
    "From when a run fell due (scheduled) or started (manual, backfill) to when its first task instance "
    "was queued: scheduler latency only.",
    "dagrun.first_task_scheduling_delay",
    ("dag_id", "run_type"),
    "dagrun.{dag_id}.first_task_scheduling_delay",
    DURATION_BUCKETS,
)
DAGRUN_DURATION = Metric(
    "windvane_dagrun_duration_seconds",
    H,
    "seconds",
    "From a run's start to its final state.",
    "dagrun.duration.{state}",
    ("dag_id", "state", "run_type"),
    "dagrun.duration.{state}.{dag_id}",
    DURATION_BUCKETS,
    ("success", "failed"),
)

# -- task instances -------------------------------------------------------------------------------
TI_START = Metric(
    "windvane_ti_start_total",
    C,
    "tries",
    "Tries a worker started.",
    "ti.start",
    DAG_TASK,
    "ti.start.{dag_id}.{task_id}",
)
TI_FINISH = Metric(
    "windvane_ti_finish_total",
    C,
    "tries",
    "Tries that reached a final (or up_for_retry) state.",
    "ti.finish",
    (*DAG_TASK, "state"),
    "ti.finish.{dag_id}.{task_id}.{state}",
    states=TRY_STATES,
)
TI_SUCCESSES = Metric(
    "windvane_ti_successes_total", C, "tries", "Tries that succeeded.", "ti_successes", DAG_TASK
)
TI_FAILURES = Metric(
    "windvane_ti_failures_total",
    C,
    "tries",
    "Tries that failed (including those that will be retried).",
    "ti_failures",
    DAG_TASK,
)
TASK_DURATION = Metric(
    "windvane_task_duration_seconds",
    H,
    "seconds",
    "From a try's start to its end, as the worker reported.",
    "task.duration",
    DAG_TASK,
    "dag.{dag_id}.{task_id}.duration",
    DURATION_BUCKETS,
)
TASK_QUEUED_DURATION = Metric(
    "windvane_task_queued_duration_seconds",
    H,
    "seconds",
    "From queued to running: how long the executor took to start a try.",
    "task.queued_duration",
    ("dag_id",),
    buckets=DURATION_BUCKETS,
)
TASK_SCHEDULED_DURATION = Metric(
    "windvane_task_scheduled_duration_seconds",
    H,
    "seconds",
    "From ready (scheduled) to queued: how long a task instance waited for a slot.",
    "task.scheduled_duration",
    ("dag_id",),
    buckets=DURATION_BUCKETS,
)
# -- sensors --------------------------------------------------------------------------------------
SENSOR_POKES = Metric(
    "windvane_sensor_pokes_total",
    C,
    "pokes",
    "Times a sensor checked its condition (counted when its try ends: done, rescheduled or failed).",
    "sensor.pokes",
    DAG_TASK,
    "sensor.pokes.{dag_id}.{task_id}",
)
SENSOR_RESCHEDULES = Metric(
    "windvane_sensor_reschedules_total",
    C,
    "tries",
    "Tries of reschedule-mode sensors that ended up_for_reschedule, giving their slot back until the "
    "next poke.",
    "sensor.reschedules",
    DAG_TASK,
    "sensor.reschedules.{dag_id}.{task_id}",
)
SENSOR_TIMEOUTS = Metric(
    "windvane_sensor_timeouts_total",
    C,
    "tries",
    "Sensors that gave up after their timeout (failed, or skipped with soft_fail).",
    "sensor.timeouts",
    DAG_TASK,
    "sensor.timeouts.{dag_id}.{task_id}",
)
# -- the metrics themselves -----------------------------------------------------------------------
BUILD_INFO = Metric(
    "windvane_build_info",
    G,
    "info",
    "Always 1; labels name the version and the service of this process.",
    "build_info",
    ("version", "service"),
)
METRICS_ERRORS = Metric(
    "windvane_metrics_errors_total",
    C,
    "errors",
    "Metrics that could not be sent or served, and misuses of the catalogue (logged once each).",
    "metrics.errors",
    ("backend", "reason"),
    "metrics.errors.{backend}.{reason}",
)

#: Every metric, in documentation order.
_OWN = tuple(
    v
    for v in dict(globals()).values()
    if isinstance(v, Metric) and v not in (*ALERTING, *CELERY, *EXECUTOR_EXTRA, *PROCESSOR)
)
_AFTER = _OWN.index(TASK_SCHEDULED_DURATION) + 1  # the alerting metrics follow the task instances'
_EXECUTOR = _OWN.index(EXECUTOR_DB_TRANSIENT_ERRORS) + 1  # the Celery ones follow the executor's
_META = _OWN.index(BUILD_INFO)  # the DAG processor's metrics come before the metrics' own
CATALOGUE: tuple[Metric, ...] = (
    _OWN[:_EXECUTOR]
    + EXECUTOR_EXTRA
    + CELERY
    + _OWN[_EXECUTOR:_AFTER]
    + ALERTING
    + _OWN[_AFTER:_META]
    + PROCESSOR
    + _OWN[_META:]
)
BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOGUE}

if len(BY_NAME) != len(CATALOGUE) or len({m.statsd for m in CATALOGUE}) != len(CATALOGUE):
    raise ValueError("two catalogue entries share a Prometheus or StatsD name")
