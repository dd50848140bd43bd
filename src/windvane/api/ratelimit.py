"""Login rate limiting: at most ``limit`` failed logins per (user name, client address) within a
sliding window; a success clears the count.

Counted in the metadata database (``api_login_failure``), so the limit holds in total across
every process that serves the API: the ``[api] workers`` of one ``windvane api-server`` and
API servers on other hosts behind one load balancer alike (an in-memory count per process let
``limit`` times the processes through). Each attempt is first counted as a failure, in one write
transaction that also reads the recent failures (serialized: SQLite has one writer; PostgreSQL
takes a transaction-level advisory lock), so two processes checking at once cannot both let the
last guess through; a success deletes the pair's rows. Rows older than the window are deleted as
attempts come. Times are the wall clock's seconds (every process, every host, compares them).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select, text

from windvane.api.tables import api_login_failure
from windvane.core.store.engine import begin_write

#: PostgreSQL advisory lock key held while an attempt is counted ("wvlogin" in ASCII).
_LOCK_KEY = 0x77766C6F67696E


class LoginLimiter:
    """Failed logins per (user name, address), counted in ``engine``'s ``api_login_failure``."""

    def __init__(self, engine: Engine, limit: int, window_seconds: float, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._limit = limit
        self._window = window_seconds
        self._clock = clock

    def attempt(self, username: str, address: str) -> float:
        """Count a login attempt as failed unless the pair must wait: the seconds until it may
        try again (0: it may try now; the attempt is counted until :meth:`succeeded`)."""
        now = self._clock()
        key = (api_login_failure.c.username == username) & (api_login_failure.c.address == address)
        with begin_write(self._engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            conn.execute(delete(api_login_failure).where(api_login_failure.c.failed_at <= now - self._window))
            recent = (
                conn.execute(
                    select(api_login_failure.c.failed_at)
                    .where(key)
                    .order_by(api_login_failure.c.failed_at.desc())
                    .limit(self._limit)
                )
                .scalars()
                .all()
            )
            if len(recent) >= self._limit:  # a slot frees when the limit-th newest leaves the window
                return max(float(recent[-1]) + self._window - now, 0.001)
            conn.execute(insert(api_login_failure).values(username=username, address=address, failed_at=now))
        return 0.0

    def succeeded(self, username: str, address: str) -> None:
        """The password was right: the pair's failures are forgotten."""
        with begin_write(self._engine) as conn:
            conn.execute(
                delete(api_login_failure).where(
                    (api_login_failure.c.username == username) & (api_login_failure.c.address == address)
                )
            )
