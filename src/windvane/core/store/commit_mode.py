"""Queue writes that do not wait for the WAL flush (PostgreSQL ``synchronous_commit = off``).

A scheduler's queueing commit is the one that holds the queueing lock (several
schedulers, :mod:`windvane.core.store.occupancy_sql`): waiting there for the
disk flush (~2.5 ms on this project's VM, against ~0.25 ms for a round trip)
serializes the schedulers on the disk. Such a commit is made visible at once
and flushed by the WAL writer moments later. Why that is safe for writes that
only move task instances between ``none``/``scheduled``/``queued`` (never for
journaled ones, whose readers count on ids that are never lost):

* PostgreSQL keeps the WAL in order: a crash loses only a tail of recent
  asynchronous commits, and the database is as if they had rolled back.
* Anything that builds on a queueing commits after it and flushes the WAL up to
  its own record, so the queueing with it: a worker's claim (``state = 'queued'``
  guard) is durable only together with the queueing it claimed.
* A lost queueing leaves the try ``scheduled``: the worker's claim of the
  workload already handed out fails (no try runs twice), and the scheduler,
  whose connection broke with the crash, rebuilds its book from the database
  and queues it again. Another scheduler that counted the lost try's slots was
  only more careful than needed.

SQLite has no such mode; these are no-ops there.
"""

from __future__ import annotations

from sqlalchemy import Connection

from windvane.core.store.raw_sql import POSTGRESQL, Sql, Tx

_RELAX_TX = Sql("SET LOCAL synchronous_commit = off")
_RELAX_SESSION = Sql("SET synchronous_commit = off")
_RESTORE_SESSION = Sql("RESET synchronous_commit")


def relax_transaction(tx: Tx) -> None:
    """The transaction under way commits without waiting for the flush (see the module doc)."""
    if tx.dialect == POSTGRESQL:
        tx.execute(_RELAX_TX)


def relax_session(conn: Connection) -> None:
    """Every commit of ``conn`` (an autocommit connection kept for queue writes) from now on does
    not wait for the flush; :func:`restore_session` before it goes back to the pool."""
    if conn.dialect.name == POSTGRESQL:
        conn.exec_driver_sql(_RELAX_SESSION.text)


def restore_session(conn: Connection) -> None:
    """Undo :func:`relax_session`."""
    if conn.dialect.name == POSTGRESQL:
        conn.exec_driver_sql(_RESTORE_SESSION.text)
