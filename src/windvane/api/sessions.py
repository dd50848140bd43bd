"""Browser sessions: a signed cookie, and the CSRF token that goes with it.

The cookie holds ``username``, the user's ``session_version`` (a password reset ends every
session), an expiry and a CSRF token, signed with HMAC-SHA256 under the server's key. A
mutating request that authenticates with the cookie must repeat the CSRF token in the
``X-CSRF-Token`` header (the ``windvane_csrf`` cookie, readable by the page, carries it): a
cross-site form can send the cookie but cannot read it (double-submit, bound to the session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

SESSION_COOKIE = "windvane_session"
CSRF_COOKIE = "windvane_csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class Session:
    username: str
    version: int
    expires: float
    csrf: str


def new_session(username: str, version: int, *, now: float, lifetime: float) -> Session:
    return Session(username, version, now + lifetime, secrets.token_urlsafe(24))


def encode(session: Session, key: bytes) -> str:
    body = json.dumps([session.username, session.version, session.expires, session.csrf]).encode()
    payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
    return f"{payload}.{_sign(payload, key)}"


def decode(cookie: str, key: bytes, *, now: float) -> Session | None:
    """The session in ``cookie``, or None when it is forged, malformed or expired."""
    payload, _, signature = cookie.rpartition(".")
    if not payload or not hmac.compare_digest(signature, _sign(payload, key)):
        return None
    try:
        username, version, expires, csrf = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
        session = Session(str(username), int(version), float(expires), str(csrf))
    except (ValueError, TypeError):
        return None
    return session if session.expires > now else None


def _sign(payload: str, key: bytes) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
