"""``windvane db clean`` for the alerting plug-in (entry-point group ``windvane.cleaners``).

Deletes, older than the cutoff: outbox rows that are done with (every state
but ``pending``) by their creation time, silences that ended, repeat-guard
rows, and SLA misses whose DAG run is gone (``db clean`` deleted it first, in
the same transaction). Pending alerts are kept whatever their age: they have
not been delivered yet.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from windvane.alerting.tables import PENDING, alert_outbox, alert_repeat, alert_silence, sla_miss
from windvane.core.store._time import to_db
from windvane.core.store.tables import dag_run


def clean(conn: Connection, older_than: datetime, dry_run: bool) -> dict[str, int]:
    """Delete (or with ``dry_run`` count) the alerting rows older than ``older_than``; rows per table."""
    cutoff = to_db(older_than, "alerting retention cutoff")
    run_gone = ~sa.exists().where(dag_run.c.id == sla_miss.c.dag_run_id)
    wheres: list[tuple[sa.Table, sa.ColumnElement[bool]]] = [
        (alert_outbox, sa.and_(alert_outbox.c.state != PENDING, alert_outbox.c.created_at < cutoff)),
        (alert_silence, alert_silence.c.until < cutoff),
        (alert_repeat, alert_repeat.c.alerted_at < cutoff),
        (sla_miss, sa.and_(sla_miss.c.detected_at < cutoff, run_gone)),
    ]
    counts = {}
    for table, where in wheres:
        if dry_run:
            counts[table.name] = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(where)
            ).scalar_one()
        else:
            counts[table.name] = conn.execute(sa.delete(table).where(where)).rowcount
    return counts
