"""One scheduler per SQLite database: an exclusive lock on a file beside the database.

Several schedulers need row locks SQLite does not have (``FOR UPDATE SKIP LOCKED``), so on SQLite a
second ``windvane scheduler`` (or ``standalone``) refuses to start, naming the database and the
scheduler that holds it (its pid and host, from the lock file and the ``job`` table). The lock is an
``flock`` on ``<database>.scheduler.lock``: the kernel releases it when its process dies, ``kill -9``
included, so a crashed scheduler never blocks the next one. Backfills run their own scheduler beside
the main one and do not take it.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, select

from windvane.core.store.engine import begin_read
from windvane.core.store.jobs import JobState
from windvane.core.store.tables import job as job_t
from windvane.errors import SchedulerConflictError


def lock_path(database: str) -> Path:
    return Path(f"{database}.scheduler.lock")


class SqliteSchedulerLock:
    """Held by the one scheduler of a SQLite database (:meth:`acquire` .. :meth:`release`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        database = engine.url.database
        #: None for an in-memory database: nothing to share, nothing to lock.
        self.path = None if not database or database == ":memory:" else lock_path(database)
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`SchedulerConflictError` naming the scheduler holding it."""
        if self.path is None or self._file is not None:
            return
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise SchedulerConflictError(self._message(holder)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.getfqdn()}\n")
        handle.flush()
        os.chmod(self.path, 0o600)
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> SqliteSchedulerLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def _message(self, holder: str) -> str:
        database = self.engine.url.database
        running = self._running_job()
        who = running or holder or "another process"
        return (
            f"another scheduler is running on the SQLite database {database} ({who}; lock file "
            f"{self.path}). SQLite supports one scheduler per database: stop that one first, or use "
            "PostgreSQL ([database] sql_alchemy_conn) to run several schedulers"
        )

    def _running_job(self) -> str | None:
        """The latest running scheduler job as "scheduler job N, pid P on H" (None if unreadable)."""
        try:
            with begin_read(self.engine) as conn:
                row = conn.execute(
                    select(job_t.c.id, job_t.c.pid, job_t.c.hostname)
                    .where(job_t.c.job_type == "scheduler", job_t.c.state == JobState.RUNNING.value)
                    .order_by(job_t.c.latest_heartbeat.desc())
                    .limit(1)
                ).first()
        except Exception:  # the message is what matters; the table is a detail of it
            return None
        return None if row is None else f"scheduler job {row[0]}, pid {row[1]} on {row[2]}"
