"""The alerting plug-in's tables (created by its own Alembic branch, :mod:`windvane.alerting.migrations`).

``alert_outbox``: one row per alert and channel, from ``pending`` to ``sent``
or ``dead``, or recorded straight away as ``silenced``, ``suppressed`` (a repeat) or
``superseded`` (replaced by its run's failure alert): nothing derived disappears
unseen. ``dedupe_key`` is unique, so deriving an alert twice adds nothing.
``group_key`` names the rows sent as one message; ``merged_into`` the row whose
message carried (or replaced) this one; ``note`` says why a row was not sent on its own.
``alert_silence``: windows during which matching alerts are silenced.
``alert_repeat``: per DAG, when its last run-failure alert was raised (for
``repeat_interval_seconds``); a successful run deletes the DAG's row.
``sla_miss``: one row per task that missed its SLA in a run (``task_id`` is
:data:`RUN_DEADLINE` for the run's own deadline), unique per (run, task), so only
the monitor whose INSERT wins acts on a miss.
The migration is the schema; these definitions are what the code queries and
are checked against it by ``tests/alerting/test_migration.py``.
"""

from __future__ import annotations

import sqlalchemy as sa

UTC = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

#: Outbox states.
PENDING, SENT, DEAD = "pending", "sent", "dead"
#: States of alerts recorded but never sent on their own (see :mod:`windvane.alerting.noise`).
SILENCED, SUPPRESSED, SUPERSEDED = "silenced", "suppressed", "superseded"
#: Every state, in the order ``windvane alerts list`` documents them.
STATES = (PENDING, SENT, DEAD, SILENCED, SUPPRESSED, SUPERSEDED)
#: Longest ``note`` kept.
NOTE_CHARS = 500
#: ``sla_miss.task_id`` of a run's deadline (no task id is empty).
RUN_DEADLINE = ""
#: ``sla_miss.kind`` values.
TASK_SLA, RUN_DEADLINE_KIND = "task_sla", "run_deadline"
#: Longest ``last_error`` kept (the end of the message is dropped).
LAST_ERROR_CHARS = 2000

alert_outbox = sa.Table(
    "alert_outbox",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.String(1000), nullable=False),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTC, nullable=False),
    sa.Column("created_at", UTC, nullable=False),
    sa.Column("sent_at", UTC),
    sa.Column("last_error", sa.String(LAST_ERROR_CHARS)),
    sa.Column("claimed_by", sa.String(250)),
    sa.Column("claimed_until", UTC),
    sa.Column("dag_id", sa.String(250)),
    sa.Column("run_id", sa.String(250)),
    sa.Column("group_key", sa.String(1000)),
    sa.Column("merged_into", BIG_ID),
    sa.Column("note", sa.String(NOTE_CHARS)),
    sa.UniqueConstraint("dedupe_key", name="uq_alert_outbox_dedupe_key"),
    sa.Index("ix_alert_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    sa.Index("ix_alert_outbox_group_key_state", "group_key", "state"),
    sa.Index("ix_alert_outbox_dag_id_run_id", "dag_id", "run_id"),
    sa.Index("ix_alert_outbox_merged_into", "merged_into"),
    sqlite_autoincrement=True,
)

alert_silence = sa.Table(
    "alert_silence",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("task_id", sa.String(250)),
    sa.Column("until", UTC, nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("created_by", sa.String(250), nullable=False),
    sa.Column("created_at", UTC, nullable=False),
    sa.Column("ended_by", sa.String(250)),
    sa.Index("ix_alert_silence_until", "until"),
)

alert_repeat = sa.Table(
    "alert_repeat",
    metadata,
    sa.Column("dag_id", sa.String(250), primary_key=True),
    sa.Column("alerted_at", UTC, nullable=False),
    sa.Column("suppressed", sa.Integer(), nullable=False),
)

sla_miss = sa.Table(
    "sla_miss",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("dag_run_id", sa.Integer(), nullable=False),
    sa.Column("task_id", sa.String(250), nullable=False),
    sa.Column("run_type", sa.String(20), nullable=False),
    sa.Column("logical_date", UTC, nullable=False),
    sa.Column("due_at", UTC, nullable=False),
    sa.Column("detected_at", UTC, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("recovered_at", UTC),
    sa.Column("callback_done_at", UTC),
    sa.Column("callback_claimed_until", UTC),
    sa.UniqueConstraint("dag_run_id", "task_id", name="uq_sla_miss_dag_run_id_task_id"),
    sa.Index("ix_sla_miss_dag_id_detected_at", "dag_id", "detected_at"),
    sa.Index(
        "ix_sla_miss_callback_pending",
        "dag_id",
        postgresql_where=sa.text("callback_done_at IS NULL"),
        sqlite_where=sa.text("callback_done_at IS NULL"),
    ),
    sa.Index(
        "ix_sla_miss_unrecovered",
        "detected_at",
        postgresql_where=sa.text("recovered_at IS NULL"),
        sqlite_where=sa.text("recovered_at IS NULL"),
    ),
    sqlite_autoincrement=True,
)
