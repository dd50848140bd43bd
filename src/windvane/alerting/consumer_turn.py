"""One process at a time reads a journal consumer: a *turn*, held while its entries are handled.

A journal consumer's cursor lives in the database, so two processes running the
same consumer (two schedulers, each with its ``dag_callbacks`` service) would
both read the entries after it and both act on them. :func:`take_turn` makes
them take turns: inside the turn, this process alone reads the cursor, handles
entries and advances it; another process asking meanwhile gets no turn (it does
not wait) and tries again on its next pass.

* PostgreSQL: the consumer's ``journal_consumer`` row is locked
  (``SELECT ... FOR UPDATE SKIP LOCKED``) in a transaction that lasts the turn,
  and the cursor advances in that same transaction, committed when the turn
  ends. A process that dies mid-turn (even ``kill -9``) loses its connection,
  so the lock goes with it and its uncommitted advance is rolled back.
* SQLite (one machine by construction): an exclusive ``flock`` on a file beside
  the database file (``<database>.<consumer>.turn``), which the kernel releases
  when the process dies; the cursor advances in short write transactions (the
  scheduler is never held up by a long one). An in-memory database is one
  process's: a lock of this process.

The consumer must be registered (:func:`windvane.core.store.journal.register_consumer`);
an unregistered one gets no turn.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from windvane.core.store import journal
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.tables import journal_consumer
from windvane.errors import StoreError

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


@dataclass
class Turn:
    """This process's turn at consumer ``name``: ``cursor`` as of now, moved by :meth:`advance`."""

    name: str
    cursor: int
    _advance: Callable[[int], int]

    def advance(self, to: int) -> None:
        """Move the cursor to ``to`` (never backwards); on PostgreSQL it commits when the turn ends."""
        self.cursor = self._advance(to)


@contextmanager
def take_turn(engine: Engine, name: str) -> Iterator[Turn | None]:
    """The turn at consumer ``name``, or None when another process has it (see the module doc)."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with _row_turn(engine, name) as turn:
            yield turn
    elif dialect == "sqlite":
        with _file_turn(engine, name) as turn:
            yield turn
    else:
        raise StoreError(f"unsupported database dialect {dialect!r} (journal consumer {name!r})")


@contextmanager
def _row_turn(engine: Engine, name: str) -> Iterator[Turn | None]:
    with engine.connect() as conn, conn.begin():
        locked = conn.execute(
            select(journal_consumer.c.last_read_id)
            .where(journal_consumer.c.name == name)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if locked is None:
            yield None
            return
        yield Turn(name, int(locked), lambda to: journal.advance(conn, name, to))


def _advance_now(engine: Engine, name: str, to: int) -> int:
    with begin_write(engine) as conn:
        return journal.advance(conn, name, to)


@contextmanager
def _file_turn(engine: Engine, name: str) -> Iterator[Turn | None]:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        with _local_turn(f"{id(engine)}:{name}") as held:
            yield _sqlite_turn(engine, name) if held else None
        return
    path = Path(f"{database}.{name}.turn")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            yield _sqlite_turn(engine, name)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _sqlite_turn(engine: Engine, name: str) -> Turn | None:
    with begin_read(engine) as conn:
        cursor = journal.consumer_cursors(conn).get(name)
    if cursor is None:
        return None
    return Turn(name, cursor, lambda to: _advance_now(engine, name, to))


@contextmanager
def _local_turn(key: str) -> Iterator[bool]:
    with _local_guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()
