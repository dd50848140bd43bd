"""Reading the state-change journal: entries after a cursor, consumers and their cursors, retention.

The journal (written by :mod:`windvane.core.store.journal_sql`) is an append-only
list of :class:`JournalEntry` with ids that grow in commit order. A reader
keeps a cursor, the id of the last entry it handled, and asks for what comes
after it (:func:`read_after`). A *consumer* is a reader whose cursor is kept in
the database (``journal_consumer``) so that it survives restarts, and so that
:func:`prune` never deletes an entry a consumer has not read.
:class:`JournalReader` is that, for one consumer, over an engine: what plug-ins
(alerting...) use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, Engine, RowMapping, delete, exists, func, select, update

from windvane.core.model.workload import TaskInstanceKey
from windvane.core.store._time import from_db, to_db
from windvane.core.store._upsert import upsert
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.journal_sql import JournalKind
from windvane.core.store.tables import journal_consumer as consumer_t
from windvane.core.store.tables import state_journal as journal_t
from windvane.errors import NotFoundError, StoreError


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One recorded state change.

    ``kind`` is ``try_finished`` (a task instance reached ``state``: ``success``,
    ``failed``, ``up_for_retry``, ``skipped`` or ``upstream_failed``),
    ``run_finished`` (the run reached ``state``) or ``cleared`` (the task
    instance was reset to run again). ``key`` names the task instance (None
    for a run's entry). ``reason`` is set when the change was not the task's
    own doing: ``zombie``, ``worker_died``, ``task_killed``, ``claim_failed``, ``queued_timeout``,
    ``dagrun_timeout``, ``branch``.
    ``error`` is the end of the try's error text (at most 4,000 characters);
    ``hostname`` the machine the try ran on (its log is there).
    """

    id: int
    recorded_at: datetime
    kind: JournalKind
    state: str
    dag_id: str
    run_id: str
    dag_run_id: int
    key: TaskInstanceKey | None = None
    reason: str | None = None
    try_number: int | None = None
    max_tries: int | None = None
    error: str | None = None
    next_retry_at: datetime | None = None
    hostname: str | None = None


def read_after(conn: Connection, cursor: int, limit: int) -> list[JournalEntry]:
    """Up to ``limit`` entries with ids above ``cursor``, oldest first (ids strictly increasing)."""
    if limit < 1:
        raise StoreError(f"journal read limit must be 1 or more, got {limit}")
    stmt = select(journal_t).where(journal_t.c.id > cursor).order_by(journal_t.c.id).limit(limit)
    return [_entry(row) for row in conn.execute(stmt).mappings()]


def tail(conn: Connection) -> int:
    """The id of the newest entry (0 when the journal is empty)."""
    return int(conn.execute(select(func.coalesce(func.max(journal_t.c.id), 0))).scalar_one())


def register_consumer(
    conn: Connection, name: str, *, from_start: bool = False, now: datetime | None = None
) -> int:
    """Make ``name`` a consumer if it is not one already; its cursor.

    A new consumer starts at the current tail (it reads what happens from now
    on) unless ``from_start``, then before the oldest entry kept. Registering
    again changes nothing.
    """
    cursor = 0 if from_start else tail(conn)
    stamp = to_db(now or datetime.now(UTC), f"registration of journal consumer {name!r}")
    upsert(conn, consumer_t, {"name": name, "last_read_id": cursor, "updated_at": stamp}, key=["name"])
    return _cursor_of(conn, name)


def advance(conn: Connection, name: str, cursor: int, *, now: datetime | None = None) -> int:
    """Move consumer ``name``'s cursor to ``cursor`` (never backwards); its cursor now.
    :class:`NotFoundError` if ``name`` is not a registered consumer."""
    stamp = to_db(now or datetime.now(UTC), f"cursor of journal consumer {name!r}")
    conn.execute(
        update(consumer_t)
        .where(consumer_t.c.name == name, consumer_t.c.last_read_id < cursor)
        .values(last_read_id=cursor, updated_at=stamp)
    )
    return _cursor_of(conn, name)


def _cursor_of(conn: Connection, name: str) -> int:
    found = conn.execute(
        select(consumer_t.c.last_read_id).where(consumer_t.c.name == name)
    ).scalar_one_or_none()
    if found is None:
        raise NotFoundError(f"journal consumer {name!r} is not registered")
    return int(found)


def consumer_cursors(conn: Connection) -> dict[str, int]:
    """Every registered consumer's cursor, by name."""
    rows = conn.execute(select(consumer_t.c.name, consumer_t.c.last_read_id).order_by(consumer_t.c.name))
    return {name: int(cursor) for name, cursor in rows}


def remove_consumer(conn: Connection, name: str) -> bool:
    """Forget consumer ``name`` (pruning stops waiting for it); False if there was none."""
    return conn.execute(delete(consumer_t).where(consumer_t.c.name == name)).rowcount > 0


def prune(conn: Connection, *, older_than: datetime) -> int:
    """Delete entries recorded before ``older_than`` that every registered consumer has read
    (ids up to the smallest cursor); how many went."""
    return int(conn.execute(delete(journal_t).where(*_prunable(older_than))).rowcount)


def count_prunable(conn: Connection, *, older_than: datetime) -> int:
    """How many entries :func:`prune` would delete now."""
    return int(
        conn.execute(select(func.count()).select_from(journal_t).where(*_prunable(older_than))).scalar_one()
    )


def _prunable(older_than: datetime) -> tuple[ColumnElement[bool], ...]:
    cutoff = to_db(older_than, "journal retention cutoff")
    read_by_all = ~exists().where(consumer_t.c.last_read_id < journal_t.c.id)
    return (journal_t.c.recorded_at < cutoff, read_by_all)


class JournalReader:
    """The journal as consumer ``name`` reads it, over ``engine``: each call is one short transaction.

    ``register`` (idempotent) before the first :meth:`read_new`; see :func:`register_consumer`.
    """

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name

    def register(self, *, from_start: bool = False) -> int:
        """Register the consumer (nothing happens if it is); its cursor."""
        with begin_write(self.engine) as conn:
            return register_consumer(conn, self.name, from_start=from_start)

    def cursor(self) -> int:
        """The stored cursor; :class:`NotFoundError` if the consumer is not registered."""
        with begin_read(self.engine) as conn:
            found = consumer_cursors(conn).get(self.name)
        if found is None:
            raise NotFoundError(f"journal consumer {self.name!r} is not registered")
        return found

    def read_after(self, cursor: int, limit: int = 100) -> list[JournalEntry]:
        """Up to ``limit`` entries after ``cursor`` (see :func:`read_after`)."""
        with begin_read(self.engine) as conn:
            return read_after(conn, cursor, limit)

    def read_new(self, limit: int = 100) -> list[JournalEntry]:
        """Up to ``limit`` entries after the stored cursor (not advancing it)."""
        return self.read_after(self.cursor(), limit)

    def advance(self, cursor: int) -> int:
        """Store ``cursor`` once the entries up to it are handled (never backwards); the cursor now."""
        with begin_write(self.engine) as conn:
            return advance(conn, self.name, cursor)


def _entry(r: RowMapping) -> JournalEntry:
    task_id = r["task_id"]
    key = None
    if task_id is not None:
        key = TaskInstanceKey(r["ti_id"], r["dag_run_id"], r["dag_id"], r["run_id"], task_id, r["map_index"])
    return JournalEntry(
        id=int(r["id"]),
        recorded_at=from_db(r["recorded_at"]),
        kind=JournalKind(r["kind"]),
        state=r["state"],
        dag_id=r["dag_id"],
        run_id=r["run_id"],
        dag_run_id=r["dag_run_id"],
        key=key,
        reason=r["reason"],
        try_number=r["try_number"],
        max_tries=r["max_tries"],
        error=r["error"],
        next_retry_at=from_db(r["next_retry_at"]),
        hostname=r["hostname"],
    )
