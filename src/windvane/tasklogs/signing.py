"""Signed log requests: only a holder of the shared secret may read a worker's logs.

A request names one try (DAG, run, task, try number) and carries
``Authorization: Windvane-Log <expires>.<signature>``: an HMAC-SHA256, keyed
with the shared secret (``[celery] worker_log_server_secret``), of the expiry
and the try. A token is good for that try only, and for :data:`TOKEN_SECONDS`
(plus :data:`CLOCK_SKEW_SECONDS` between the two machines' clocks), as
Airflow's log server accepts a short-lived token signed with its secret key.
"""

from __future__ import annotations

import hashlib
import hmac

from windvane.tasklogs.files import TryLog

#: How long a signed request stays valid.
TOKEN_SECONDS = 30.0
#: How far apart the reader's and the worker's clocks may be.
CLOCK_SKEW_SECONDS = 30.0
SCHEME = "Windvane-Log"


def _message(expires: int, log: TryLog) -> bytes:
    return "\n".join((str(expires), log.dag_id, log.run_id, log.task_id, str(log.try_number))).encode()


def sign(secret: str, log: TryLog, now: float) -> str:
    """The ``Authorization`` header value for reading ``log``, valid from ``now`` on."""
    expires = int(now + TOKEN_SECONDS)
    digest = hmac.new(secret.encode(), _message(expires, log), hashlib.sha256).hexdigest()
    return f"{SCHEME} {expires}.{digest}"


def verify(secret: str, header: str | None, log: TryLog, now: float) -> str | None:
    """None if ``header`` signs ``log`` with ``secret`` and has not expired; else why not."""
    if not secret:
        return "this log server has no secret"
    scheme, _, token = (header or "").partition(" ")
    expires_text, _, digest = token.partition(".")
    if scheme != SCHEME or not expires_text.isdigit() or not digest:
        return f"no {SCHEME} signature"
    expires = int(expires_text)
    if expires < now - CLOCK_SKEW_SECONDS or expires > now + TOKEN_SECONDS + CLOCK_SKEW_SECONDS:
        return "the signature has expired (or the clocks differ by more than 30 s)"
    wanted = hmac.new(secret.encode(), _message(expires, log), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(wanted, digest):
        return "bad signature (is [celery] worker_log_server_secret the same on both machines?)"
    return None
