"""``task_instance.journal_reason`` and the trigger that journals a worker's finish in its own statement.

Issue 15 (at most 2 statements per task instance): a worker's finish used to be the guarded
``UPDATE`` and then the journal's ``INSERT ... SELECT``. With this trigger, an ``UPDATE`` that names
``journal_reason`` in its ``SET`` list journals every row it moves from ``running`` to a journaled
state (``success``, ``failed``, ``up_for_retry``, ``skipped``, ``upstream_failed``), with that
reason, inside the same statement: the ``try_finished`` row the ``INSERT`` wrote, column for column
(``recorded_at`` is the try's ``end_date``, the error cut to its last 4,000 characters). Only the
worker's one-statement finish (:mod:`windvane.core.store.try_finish_sql`) sets the column; every other
writer keeps its own journal ``INSERT``. The column keeps the reason of the latest such finish.

On PostgreSQL the trigger first takes the journal's transaction-level advisory lock, as the
``INSERT`` does (ids in commit order, see :mod:`windvane.core.store.journal_sql`); a row trigger
that runs ``AFTER`` fires at the end of its statement, after every row lock of the statement.

SQLite drops a table's triggers when Alembic's batch mode copies the table: a later migration
that alters ``task_instance`` in batch mode uses
:func:`windvane.core.store.schema_triggers.batch_alter_table_keeping_triggers`, which creates
them again; ``migrate`` fails, naming the trigger and table, if one is missing at the end.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

#: As of this revision (``journal_sql.JOURNALED_TI_STATES``, ``COLUMNS``, ``ERROR_LIMIT``, ``LOCK_KEY``).
_STATES = "('success', 'failed', 'up_for_retry', 'skipped', 'upstream_failed')"
_COLUMNS = (
    "recorded_at, kind, reason, dag_id, run_id, dag_run_id, task_id, map_index, ti_id, try_number, "
    "max_tries, state, error, next_retry_at, hostname"
)
_ERROR = (
    "CASE WHEN length(NEW.error) > 4000 THEN '...' || substr(NEW.error, length(NEW.error) - 3996) "
    "ELSE NEW.error END"
)
_VALUES = (
    "NEW.end_date, 'try_finished', NEW.journal_reason, NEW.dag_id, NEW.run_id, NEW.dag_run_id, "
    f"NEW.task_id, NEW.map_index, NEW.id, NEW.try_number, NEW.max_tries, NEW.state, {_ERROR}, "
    "NEW.next_retry_at, NEW.hostname"
)
_INSERT = f"INSERT INTO state_journal ({_COLUMNS}) VALUES ({_VALUES})"
_WHEN = f"OLD.state = 'running' AND NEW.state IN {_STATES}"
_LOCK_KEY = 0x77766A6F75726E
TRIGGER = "state_journal_try_end"


def upgrade() -> None:
    with op.batch_alter_table("task_instance") as batch:
        batch.add_column(sa.Column("journal_reason", sa.String(50), nullable=True))
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_advisory_xact_lock({_LOCK_KEY}); {_INSERT}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF journal_reason ON task_instance FOR EACH ROW "
            f"WHEN ({_WHEN}) EXECUTE FUNCTION {TRIGGER}()"
        )
        return
    op.execute(
        f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF journal_reason ON task_instance "
        f"WHEN {_WHEN} BEGIN {_INSERT}; END"
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TRIGGER} ON task_instance")
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    else:
        op.execute(f"DROP TRIGGER {TRIGGER}")
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_column("journal_reason")
