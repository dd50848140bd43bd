"""Riding out a database outage: which errors are transient, and how long to keep trying.

:func:`is_transient` says whether an error is the database going away or refusing for a while
(a dropped or terminated connection, a server restart, SQLite busy/locked, a full disk) rather
than a bug: by the error classes' names (and their base classes') along the
``__cause__``/``__context__`` chain (``OperationalError``, ``InterfaceError``, SQLAlchemy's
``connection_invalidated``), so lean workers need not import SQLAlchemy. A PostgreSQL deadlock
(``DeadlockDetected``) or serialization failure is one: the server rolled the transaction back,
and running it again succeeds once the other transaction committed; so is a lock wait past
``lock_timeout``. :class:`OutageGuard` is what a long-running process keeps:
after each transient error it gives the pause before the next attempt (exponential backoff,
0.5 s doubling to 10 s) and, once the outage lasted longer than ``max_outage_seconds``, raises
:class:`~windvane.errors.DatabaseOutageError` saying so; a success ends the outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from windvane.errors import DatabaseOutageError

#: Error classes (by name) a database raises when it is unreachable or refuses for a while.
TRANSIENT_CLASSES = frozenset({"OperationalError", "InterfaceError", "DisconnectionError", "AdminShutdown"})
#: Fragments of messages that are transient whatever the class (psycopg/sqlite3 wording).
TRANSIENT_MESSAGES = (
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "consuming input failed",
    "database is locked",
    "database or disk is full",
    "disk i/o error",
    "could not connect",
    "connection refused",
    "no space left on device",
    "deadlock detected",
    "could not serialize access",
)
FIRST_PAUSE = 0.5
MAX_PAUSE = 10.0


def is_transient(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) is a database outage rather than a bug."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "connection_invalidated", False):
            return True
        # By the whole class hierarchy: psycopg raises subclasses (DeadlockDetected,
        # SerializationFailure, LockNotAvailable are OperationalErrors) on the raw DBAPI paths,
        # where SQLAlchemy would have wrapped them as its own OperationalError.
        if any(cls.__name__ in TRANSIENT_CLASSES for cls in type(current).__mro__):
            return True
        text = str(current).lower()
        if any(fragment in text for fragment in TRANSIENT_MESSAGES):
            return True
        current = current.__cause__ or current.__context__
    return False


class OutageGuard:
    """One process's view of the current database outage (see the module doc)."""

    def __init__(
        self,
        process: str,
        *,
        max_outage_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.process = process
        self.max_outage_seconds = max_outage_seconds
        self._clock = clock
        #: When the current outage began (None: no outage).
        self.since: float | None = None
        self._pause = FIRST_PAUSE
        #: Transient errors seen over the process's life.
        self.errors = 0

    def failed(self, error: BaseException) -> float:
        """Note a transient ``error``; the pause before the next attempt. Raises
        :class:`DatabaseOutageError` once the outage lasted longer than allowed."""
        now = self._clock()
        self.errors += 1
        if self.since is None:
            self.since = now
            self._pause = FIRST_PAUSE
        lasted = now - self.since
        if lasted > self.max_outage_seconds:
            raise DatabaseOutageError(
                f"the {self.process} could not reach the metadata database for {lasted:.0f} s "
                f"(longer than [database] max_outage_seconds = {self.max_outage_seconds:g}); last error: "
                f"{type(error).__name__}: {error}"
            ) from error
        pause = self._pause
        self._pause = min(self._pause * 2, MAX_PAUSE)
        return pause

    def succeeded(self) -> float | None:
        """Note a success; how long the outage it ends lasted (None if there was none)."""
        if self.since is None:
            return None
        lasted = self._clock() - self.since
        self.since = None
        return lasted
