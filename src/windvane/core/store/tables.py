"""The metadata database schema (SQLAlchemy Core).

Times are stored as timezone-aware UTC. Every query the scheduler runs per
loop is served by an index on *active* rows (state in a small set), so loop
cost does not grow with history. Alembic migrations in ``migrations/`` create
exactly this schema; ``tests`` check that the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

UTC = DateTime(timezone=True)
ID = String(250)
#: Task-instance states the scheduler looks at every loop (the partial index below).
ACTIVE_TI_STATES = ("scheduled", "queued", "running", "up_for_retry", "up_for_reschedule")

dag = Table(
    "dag",
    metadata,
    Column("dag_id", ID, primary_key=True),
    Column("fileloc", Text, nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("is_paused", Boolean, nullable=False, server_default=text("false")),
    Column("dag_hash", String(64), nullable=False),
    Column("serialized", Text, nullable=False),
    Column("timetable_summary", Text),
    Column("description", Text),
    Column("tags", JSON),
    Column("owners", Text),
    Column("last_parsed_at", UTC),
    # Where the next scheduled run stands; NULL when there is none to create.
    Column("next_dagrun_logical_date", UTC),
    Column("next_dagrun_data_interval_start", UTC),
    Column("next_dagrun_data_interval_end", UTC),
    Column("next_dagrun_create_after", UTC),
    # The dag_change seq of the row's last change the scheduler reads (triggers stamp it, migration 0007).
    Column("change_seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False, server_default="0"),
    Index("ix_dag_next_dagrun_create_after", "is_active", "is_paused", "next_dagrun_create_after"),
    Index("ix_dag_change_seq", "change_seq"),
)

# One row (id 1) whose ``seq`` database triggers raise whenever a ``dag`` row is inserted, deleted,
# or changes a column the scheduler reads (migration 0006): an idle scheduler reads this instead of
# every DAG row.
dag_change = Table(
    "dag_change",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    # The seq of the last delete of a dag row (a deleted row cannot be stamped; migration 0007).
    Column("deleted_seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False, server_default="0"),
)

dag_run = Table(
    "dag_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dag_id", ID, nullable=False),
    Column("run_id", ID, nullable=False),
    Column("run_type", String(20), nullable=False),
    Column("logical_date", UTC, nullable=False),
    Column("data_interval_start", UTC),
    Column("data_interval_end", UTC),
    Column("state", String(20), nullable=False),
    Column("queued_at", UTC),
    Column("start_date", UTC),
    Column("end_date", UTC),
    Column("conf", JSON),
    Column("dag_hash", String(64)),
    Column("creating_job_id", Integer),
    # The scheduler job driving the run while it is queued or running (migration 0008): one at a time.
    Column("scheduled_by_job_id", Integer),
    Column("external_trigger", Boolean, nullable=False, server_default=text("false")),
    # The run must have succeeded by then (its due time + the DAG's ``deadline``); see model/deadlines.py.
    Column("deadline_at", UTC),
    UniqueConstraint("dag_id", "run_id"),
    Index("ix_dag_run_dag_id_logical_date", "dag_id", "logical_date"),
    Index("ix_dag_run_logical_date", "logical_date", "id"),
    Index(
        "ix_dag_run_active",
        "state",
        "dag_id",
        postgresql_where=text("state IN ('queued', 'running')"),
        sqlite_where=text("state IN ('queued', 'running')"),
    ),
    Index(
        "ix_dag_run_deadline_at",
        "deadline_at",
        postgresql_where=text("deadline_at IS NOT NULL"),
        sqlite_where=text("deadline_at IS NOT NULL"),
    ),
)

task_instance = Table(
    "task_instance",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("dag_run_id", Integer, ForeignKey("dag_run.id", ondelete="CASCADE"), nullable=False),
    Column("dag_id", ID, nullable=False),
    Column("run_id", ID, nullable=False),
    Column("task_id", ID, nullable=False),
    Column("map_index", Integer, nullable=False, server_default=text("-1")),
    Column("state", String(20), nullable=False, server_default=text("'none'")),
    Column("try_number", Integer, nullable=False, server_default=text("0")),
    Column("max_tries", Integer, nullable=False, server_default=text("0")),
    Column("priority_weight", Integer, nullable=False, server_default=text("1")),
    Column("pool", String(256), nullable=False, server_default=text("'default_pool'")),
    Column("pool_slots", Integer, nullable=False, server_default=text("1")),
    Column("queue", String(256), nullable=False, server_default=text("'default'")),
    Column("operator", String(1000)),
    Column("scheduled_dttm", UTC),
    Column("queued_dttm", UTC),
    Column("start_date", UTC),
    Column("end_date", UTC),
    Column("duration", Float),
    Column("hostname", String(1000)),
    Column("pid", Integer),
    # The scheduler job that queued the current try; workers claim with it (see task_runner).
    Column("queued_by_job_id", Integer),
    Column("next_retry_at", UTC),
    Column("last_heartbeat_at", UTC),
    Column("error", Text),
    Column("updated_at", UTC),
    # The try must have succeeded by then (the run's due time + the task's ``sla``).
    Column("sla_due_at", UTC),
    # Why the latest worker-written end was not the task's own doing (a journal reason, or NULL). An
    # UPDATE that sets it journals the rows it ends (migration 0010's trigger; see try_finish_sql.py).
    Column("journal_reason", String(50)),
    UniqueConstraint("dag_run_id", "task_id", "map_index"),
    Index("ix_task_instance_dag_id_task_id_state", "dag_id", "task_id", "state"),
    Index(
        "ix_task_instance_active",
        "state",
        "pool",
        postgresql_where=text(f"state IN {ACTIVE_TI_STATES}"),
        sqlite_where=text(f"state IN {ACTIVE_TI_STATES}"),
    ),
    Index(
        "ix_task_instance_sla_due_at",
        "sla_due_at",
        postgresql_where=text("sla_due_at IS NOT NULL"),
        sqlite_where=text("sla_due_at IS NOT NULL"),
    ),
)

# One row per try of a reschedule-mode sensor that ended up_for_reschedule (Airflow's table): its timeout
# counts from the first row's start_date since the last clear (see core/store/try_lifecycle.py).
task_reschedule = Table(
    "task_reschedule",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column(
        "ti_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("task_instance.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("try_number", Integer, nullable=False),
    Column("start_date", UTC, nullable=False),
    Column("end_date", UTC, nullable=False),
    Column("duration", Float),
    Column("reschedule_date", UTC, nullable=False),
    Index("ix_task_reschedule_ti_id_try_number", "ti_id", "try_number"),
)

xcom = Table(
    "xcom",
    metadata,
    Column("dag_run_id", Integer, ForeignKey("dag_run.id", ondelete="CASCADE"), primary_key=True),
    Column("task_id", ID, primary_key=True),
    Column("map_index", Integer, primary_key=True, server_default=text("-1")),
    Column("key", String(512), primary_key=True),
    Column("dag_id", ID, nullable=False),
    Column("run_id", ID, nullable=False),
    Column("value", Text, nullable=False),
    Column("timestamp", UTC, nullable=False),
    Index("ix_xcom_dag_id_run_id_task_id", "dag_id", "run_id", "task_id"),
)

# The template fields of a task instance as its latest try rendered them (Airflow's table of the same
# name), secrets masked, as one JSON object; written in the try's finishing transaction and kept for
# the newest runs of each task (core/store/rendered_fields_sql.py).
rendered_task_instance_fields = Table(
    "rendered_task_instance_fields",
    metadata,
    Column("dag_run_id", Integer, ForeignKey("dag_run.id", ondelete="CASCADE"), primary_key=True),
    Column("task_id", ID, primary_key=True),
    Column("map_index", Integer, primary_key=True, server_default=text("-1")),
    Column("dag_id", ID, nullable=False),
    Column("run_id", ID, nullable=False),
    Column("try_number", Integer, nullable=False),
    Column("rendered_fields", Text, nullable=False),
    Column("rendered_at", UTC, nullable=False),
    Index("ix_rendered_task_instance_fields_dag_id_task_id", "dag_id", "task_id", "dag_run_id"),
)

slot_pool = Table(
    "slot_pool",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pool", String(256), nullable=False, unique=True),
    Column("slots", Integer, nullable=False),
    Column("description", Text),
)

import_error = Table(
    "import_error",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("filename", Text, nullable=False, unique=True),
    Column("timestamp", UTC, nullable=False),
    Column("stacktrace", Text, nullable=False),
)

dag_file = Table(
    "dag_file",
    metadata,
    Column("path", Text, primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("mtime", Float),
    Column("last_parsed_at", UTC),
    Column("parse_duration", Float),
    Column("dag_ids", JSON),
)

job = Table(
    "job",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_type", String(30), nullable=False),
    Column("state", String(20), nullable=False),
    Column("hostname", String(1000)),
    Column("pid", Integer),
    Column("start_date", UTC, nullable=False),
    Column("end_date", UTC),
    Column("latest_heartbeat", UTC, nullable=False),
    # A scheduler's own loop timing, written with its heartbeat: the 95th percentile of its recent
    # passes (seconds) and how many passes that covers (the health panel reads them).
    Column("loop_p95_seconds", Float),
    Column("loop_samples", Integer),
    Index("ix_job_type_state_heartbeat", "job_type", "state", "latest_heartbeat"),
)

# Several schedulers' slot leases (see windvane.core.scheduler.leasing): what part of each global limit a
# live scheduler job may fill without a lock. kind 0: a pool (name), 1: a DAG's max_active_tasks (name =
# dag id), 2: a task's max_active_tis_per_dag (name = dag id, task_id). Written only under the queueing lock.
scheduler_lease = Table(
    "scheduler_lease",
    metadata,
    Column("job_id", Integer, primary_key=True),
    Column("kind", Integer, primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("task_id", String(256), primary_key=True),
    Column("slots", Integer, nullable=False),
    Column("demand", Integer, nullable=False),
)

# The state-change journal (see windvane.core.store.journal_sql): ids grow in commit order and are never
# reused (AUTOINCREMENT on SQLite, even once pruning emptied the table), so a cursor is a position.
state_journal = Table(
    "state_journal",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("recorded_at", UTC, nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("reason", String(50)),
    Column("dag_id", ID, nullable=False),
    Column("run_id", ID, nullable=False),
    Column("dag_run_id", Integer, nullable=False),
    # The task instance's fields are NULL on a run's rows.
    Column("task_id", ID),
    Column("map_index", Integer),
    Column("ti_id", BigInteger().with_variant(Integer, "sqlite")),
    Column("try_number", Integer),
    Column("max_tries", Integer),
    Column("state", String(20), nullable=False),
    # A summary: the last 4,000 characters of the try's error.
    Column("error", Text),
    Column("next_retry_at", UTC),
    # Where the try ran (its log is there).
    Column("hostname", String(1000)),
    sqlite_autoincrement=True,
)

# Who reads the journal, and how far: pruning keeps every row a consumer has not read.
journal_consumer = Table(
    "journal_consumer",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("last_read_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("updated_at", UTC, nullable=False),
)

# Connections and Variables (see docs/connections.md). ``password`` and ``extra`` of a connection and
# ``val`` of a variable are Fernet tokens when ``is_encrypted`` ([core] fernet_key), else plain text.
connection = Table(
    "connection",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conn_id", ID, nullable=False, unique=True),
    Column("conn_type", String(500)),
    Column("description", Text),
    Column("host", String(500)),
    Column("schema", String(500)),
    Column("login", Text),
    Column("password", Text),
    Column("port", Integer),
    Column("extra", Text),
    Column("is_encrypted", Boolean, nullable=False),
)

variable = Table(
    "variable",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", ID, nullable=False, unique=True),
    Column("val", Text),
    Column("description", Text),
    Column("is_encrypted", Boolean, nullable=False),
    # Marked sensitive by whoever set it: masked in logs and the CLI whatever its key is named.
    Column("is_sensitive", Boolean, nullable=False),
)
