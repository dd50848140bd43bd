"""The solo lock: a scheduler alone on a PostgreSQL database queues without the queueing lock.

With several schedulers, every pass that queues takes the queueing lock and counts what every
scheduler's tries hold (:mod:`windvane.core.store.occupancy_sql`): a transaction and a grouped count
per pass. A scheduler that sees no other live scheduler takes instead the **solo lock**, a
session-level advisory lock held *exclusively* on the connection it writes its passes on, and then
queues as a scheduler alone does, against its own counts in memory (plus what tries of runs it does
not drive held when it took the lock).

Every other scheduler's queueing takes the same key *shared* (transaction level, beside the queueing
lock) and queues nothing while it is held exclusively: so at any moment either one scheduler queues
alone, or schedulers queue one at a time under the queueing lock, never both. Neither side ever
waits on this key (``pg_try_…``), so no pass blocks on it and no deadlock with the queueing lock is
possible. A solo scheduler that sees a second live scheduler job (it looks once per poll) releases
the lock; until then the newcomer queues nothing, only waits (at most a poll interval and a pass).

The lock lives as long as its session: a scheduler killed (``kill -9``) or cut off loses it with its
connection. One that stalls with its connection open (stopped, swapping) keeps it; the scheduler that
finds it dead (no heartbeat) ends that session (:func:`end_sessions_of`), found by the
``application_name`` the solo scheduler set when it took the lock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

#: Advisory lock key of the solo lock ("wvsolo" in ASCII).
SOLO_LOCK_KEY = 0x7776736F6C6F

_TAKE = text(
    "SELECT CASE WHEN pg_try_advisory_lock(:key) THEN set_config('application_name', :name, false) END"
)
_RELEASE = text("SELECT pg_advisory_unlock(:key), set_config('application_name', '', false)")
_TAKE_SHARED = text(
    "SELECT CASE WHEN pg_try_advisory_lock_shared(:key) THEN set_config('application_name', :name, false) END"
)
_RELEASE_SHARED = text("SELECT pg_advisory_unlock_shared(:key), set_config('application_name', '', false)")
_HELD = (
    "SELECT pg_terminate_backend(a.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database "
    "WHERE datname = current_database()) AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1 "
    "AND l.granted AND a.pid <> pg_backend_pid()"
)
_HOLDERS = text(_HELD + " AND a.application_name = ANY(CAST(:names AS TEXT[]))")
_ANY_HOLDER = text(_HELD)
_KEY = {"hi": SOLO_LOCK_KEY >> 32, "lo": SOLO_LOCK_KEY & 0xFFFFFFFF}


def session_name(job_id: int) -> str:
    """The ``application_name`` of the session holding the solo lock for scheduler job ``job_id``."""
    return f"windvane-scheduler-solo-{job_id}"


def take(conn: Connection, job_id: int) -> bool:
    """Try to take the solo lock on ``conn``'s session (an autocommit connection: the lock outlives
    any transaction); True when taken. Never waits."""
    name = conn.execute(_TAKE, {"key": SOLO_LOCK_KEY, "name": session_name(job_id)}).scalar_one()
    return name is not None


def release(conn: Connection) -> None:
    """Release the solo lock held on ``conn``'s session."""
    conn.execute(_RELEASE, {"key": SOLO_LOCK_KEY})


def take_shared(conn: Connection, job_id: int) -> bool:
    """Try to take the solo lock *shared* on ``conn``'s session (a scheduler that queues within its
    slot leases, :mod:`windvane.core.scheduler.leasing`: no scheduler can be solo meanwhile, and
    none holds it while one is); True when taken. Never waits. The session is named as a solo
    holder's, so :func:`end_sessions_of` ends it too."""
    name = conn.execute(_TAKE_SHARED, {"key": SOLO_LOCK_KEY, "name": session_name(job_id)}).scalar_one()
    return name is not None


def release_shared(conn: Connection) -> None:
    """Release the shared hold of :func:`take_shared`."""
    conn.execute(_RELEASE_SHARED, {"key": SOLO_LOCK_KEY})


def end_sessions_of(conn: Connection, job_ids: Sequence[int]) -> int:
    """End the sessions holding the solo lock, exclusive or shared, for any of ``job_ids``
    (schedulers found dead: their session would otherwise keep every other scheduler from queueing,
    or queue within a lease that is reclaimed); how many were ended."""
    if not job_ids or conn.dialect.name != "postgresql":
        return 0
    names = [session_name(j) for j in job_ids]
    return len(conn.execute(_HOLDERS, {**_KEY, "names": names}).all())


def end_every_holder(conn: Connection) -> int:
    """End whichever session holds the solo lock on this database (a test's reset between cases:
    a scheduler object dropped without ``shutdown()`` would keep it until collected)."""
    if conn.dialect.name != "postgresql":
        return 0
    return len(conn.execute(_ANY_HOLDER, _KEY).all())
