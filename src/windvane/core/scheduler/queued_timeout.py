"""``[scheduler] task_queued_timeout_seconds`` (Airflow's ``task_queued_timeout``): a try queued too
long is failed.

Whatever left a try queued — a worker whose claim failed and that could not fail the try itself
(:mod:`windvane.core.worker.claiming`), a broker that lost the message, an executor that never
sent it — nobody will run it, and it holds a slot of its pool and of its DAG. Looked for with the
zombies (every ``zombie_check_interval_seconds``), such a try is failed (``up_for_retry`` while it
has tries left, after the task's retry delay), journaled with reason ``queued_timeout`` so its
failure or retry callback runs. The write comes first, in its own transaction, each try under its
queued guard (``state='queued'`` and its try number: a worker that claims it first wins, and a
late worker's claim of it fails); the book then follows only the rows that changed.
"""

from __future__ import annotations

import pendulum
from sqlalchemy import Engine

from windvane.core.model.workload import TaskInstanceKey
from windvane.core.scheduler import db
from windvane.core.scheduler.book import Book
from windvane.core.scheduler.giving_up import verdict
from windvane.core.scheduler.pass_work import PassWork
from windvane.core.store import dag_runs
from windvane.core.store.engine import begin_read
from windvane.core.store.journal_sql import JournalBatch
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.try_unclaimed import time_out_queued_tries


def time_out_queued(
    engine: Engine, book: Book, timeout: float, now: pendulum.DateTime, work: PassWork, owner: int | None
) -> int:
    """Fail the tries queued before ``now - timeout`` (with ``owner``: only in the runs that scheduler
    job drives); the book follows. How many were failed."""
    with begin_read(engine) as conn:
        found = db.stuck_in_queued(conn, now.subtract(seconds=timeout), owner=owner)
        if not found:
            return 0
        unloaded = sorted({z.dag_run_id for z in found if z.dag_run_id not in book.runs})
        names = {r.id: (r.dag_id, r.run_id) for r in dag_runs.get_runs(conn, unloaded)} if unloaded else {}
    reason = f"stayed queued longer than task_queued_timeout ({timeout:g} s) without starting"
    verdicts = [(z, *verdict(book.runs, z, now)) for z in found]
    with engine.begin() as conn:
        journal = JournalBatch(now)
        tries = [(z.ti_id, z.try_number, state.value, at) for z, state, at in verdicts]
        changed = time_out_queued_tries(dbapi_tx(conn), tries, reason, now, journal)
        journal.write(dbapi_tx(conn))
    for z, _, _ in verdicts:
        if z.ti_id not in changed:
            continue
        run = book.runs.get(z.dag_run_id)
        dag_id, run_id = (run.dag_id, run.run_id) if run else names.get(z.dag_run_id, ("unknown", ""))
        key = TaskInstanceKey(z.ti_id, z.dag_run_id, dag_id, run_id, z.task_id)
        book.give_up(z, key, now, reason, work, queued=True)
    return len(changed)
