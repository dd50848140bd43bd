"""Waiting for the metadata database when a long-running command starts.

A scheduler, DAG processor or standalone started while the database is away (a server still
starting, a network blip, a locked SQLite file) does not exit at once: it retries with the outage
guard's backoff (0.5 s doubling to 10 s), logging each attempt, for up to ``[database]
max_outage_seconds``, then fails with a :class:`~windvane.errors.DatabaseOutageError` that names
the database URL (password masked).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, text

from windvane.core.store.engine import mask_url
from windvane.core.store.outage import OutageGuard, is_transient
from windvane.errors import DatabaseOutageError

log = logging.getLogger("windvane.cli")


def wait_for_database(
    engine: Engine, *, max_outage_seconds: float, stop: threading.Event | None = None
) -> None:
    """Return once ``engine`` answers a query; retry transient failures (see the module doc).
    A ``stop`` event set meanwhile ends the wait early (the caller then checks it)."""
    guard = OutageGuard("process", max_outage_seconds=max_outage_seconds)
    url = mask_url(engine.url.render_as_string(hide_password=False))
    waiter = stop or threading.Event()
    while not waiter.is_set():
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            if not is_transient(exc):
                raise
            try:
                pause = guard.failed(exc)
            except DatabaseOutageError:
                raise DatabaseOutageError(
                    f"could not reach the metadata database {url} for {max_outage_seconds:g} s "
                    f"([database] max_outage_seconds); last error: {_first_line(exc)}"
                ) from exc
            log.warning(
                "cannot reach the metadata database %s (%s); retrying in %.1f s", url, _first_line(exc), pause
            )
            waiter.wait(pause)
            continue
        lasted = guard.succeeded()
        if lasted is not None:
            log.warning("the metadata database %s answered after %.1f s", url, lasted)
        return


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return mask_url(f"{type(error).__name__}: {lines[0] if lines else ''}")
