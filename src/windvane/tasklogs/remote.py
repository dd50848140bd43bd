"""Fetching a try's log from the log server of the worker that ran it (:mod:`.server`).

The worker's address is the try's recorded ``hostname`` (what the worker wrote
on the task instance row and in the journal: ``[celery] worker_hostname``, or
the machine's host name), its port the reader's own ``[celery]
worker_log_server_port``: every worker serves on the same port, as in Airflow.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from windvane.errors import LogFetchError, NotFoundError
from windvane.tasklogs.files import TryLog
from windvane.tasklogs.signing import sign


@dataclass(frozen=True)
class RemoteLogs:
    """How to reach workers' log servers: their port, the shared secret, a timeout per request."""

    port: int = 8793
    secret: str = field(default="", repr=False)
    timeout_seconds: float = 5.0
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def url(self, hostname: str, log: TryLog, offset: int, limit: int) -> str:
        host = f"[{hostname}]" if ":" in hostname else hostname  # an IPv6 address
        query = urlencode(
            {"dag_id": log.dag_id, "run_id": log.run_id, "task_id": log.task_id,
             "try_number": log.try_number, "offset": offset, "limit": limit}
        )  # fmt: skip
        return f"http://{host}:{self.port}/log?{query}"

    def fetch(self, hostname: str, log: TryLog, offset: int, limit: int) -> dict[str, Any]:
        """A chunk as :func:`~windvane.tasklogs.files.read_chunk` returns it, read on ``hostname``;
        :class:`NotFoundError` if that worker has no such log, :class:`LogFetchError` saying why it
        could not be read (unreachable, refused)."""
        where = f"{log.missing()} on this machine, and the worker {hostname!r} that ran it"
        if not self.secret:
            raise LogFetchError(
                f"{where} cannot be asked: set [celery] worker_log_server_secret (the same on the "
                "workers) or share the log folder"
            )
        request = urllib.request.Request(self.url(hostname, log, offset, limit))
        request.add_header("Authorization", sign(self.secret, log, self.clock()))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                chunk: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            reason = _reason(exc)
            if exc.code == 404:
                raise NotFoundError(
                    f"{log.missing()}: not on this machine, nor on the worker {hostname!r} that ran it"
                ) from None
            raise LogFetchError(f"{where} refused it (HTTP {exc.code}): {reason}") from None
        except (OSError, ValueError) as exc:
            raise LogFetchError(f"{where} could not be reached on port {self.port}: {exc}") from None
        return {k: chunk[k] for k in ("content", "offset", "next_offset", "size")}


def _reason(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["error"])
    except Exception:  # not our server's JSON
        return str(error.reason)
