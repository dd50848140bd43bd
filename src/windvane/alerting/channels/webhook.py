"""The generic webhook channel: a signed, versioned JSON POST (bridges to PagerDuty, Teams, Opsgenie...).

Payload (version 1; fields are only ever added within a version)::

    {"version": 1, "kind": "task_failed", "dedupe_key": "...", "dag_id": "...", "task_id": "...",
     "run_id": "...", "try_number": 2, "max_tries": 2, "state": "failed", "error": "...",
     "log_path": "...", "hostname": "worker-1", "link": "...",
     "occurred_at": "2026-12-06T22:00:00+00:00", "severity": "critical",
     "count": 1, "alerts": [], "subject": "[windvane] task failed: ...", "sent_at": 1796594400}

A grouped message (several alerts of one run) has the first alert's fields,
``count`` (how many alerts it stands for) and ``alerts`` (the first 20 of them,
each with the same fields but ``recipients``); a run-failure alert that
replaced its tasks' alerts lists those in ``alerts``.

With a ``secret``, ``X-Windvane-Signature: sha256=<hex>`` is the HMAC-SHA256 of the
raw body under the secret, and ``X-Windvane-Timestamp`` repeats ``sent_at`` (which
the signature covers, so receivers can refuse stale replays). ``X-Windvane-Delivery``
is the dedupe key (the same for every attempt: receivers can drop repeats).

Uses httpx: native asyncio with one deadline for the whole request, so a stuck
receiver cannot hold the dispatcher beyond ``timeout``. 2xx is delivered; 429
(with ``Retry-After``), 408, 5xx, connection errors and timeouts are retryable;
any other answer is permanent. The URL (it often embeds a key) is never shown
beyond its host.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from windvane.alerting.alert import Alert
from windvane.alerting.channels.base import DeliveryError
from windvane.alerting.channels.retry_after import parse_retry_after
from windvane.alerting.payload import with_members

PAYLOAD_VERSION = 1
SIGNATURE_HEADER = "X-Windvane-Signature"
TIMESTAMP_HEADER = "X-Windvane-Timestamp"
DELIVERY_HEADER = "X-Windvane-Delivery"


def payload_of(alert: Alert, *, sent_at: int) -> dict[str, Any]:
    """The version-1 JSON document for ``alert``: the alert's stored fields (but its recipients:
    a bridge routes by its own rules), severity, count and listed alerts, its subject, and when
    it was sent."""
    body = with_members(alert)
    del body["recipients"]
    for member in body["alerts"]:
        del member["recipients"]
    return {"version": PAYLOAD_VERSION, **body, "subject": alert.subject, "sent_at": sent_at}


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """True when ``signature`` is ``body``'s under ``secret`` (constant-time; for receivers and tests)."""
    return hmac.compare_digest(sign(secret, body), signature)


class WebhookChannel:
    """POSTs each alert as signed JSON to one URL."""

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        name: str = "webhook",
    ) -> None:
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._headers = dict(headers or {})
        self._name = name
        self._host = urlsplit(url).netloc.rpartition("@")[2] or "?"

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self._name!r}, host={self._host!r})"

    @property
    def name(self) -> str:
        """The channel's configured name."""
        return self._name

    def request_for(self, alert: Alert, *, sent_at: int | None = None) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers :meth:`send` would POST for ``alert``."""
        stamp = int(time.time()) if sent_at is None else sent_at
        body = json.dumps(payload_of(alert, sent_at=stamp), separators=(",", ":"), sort_keys=True).encode()
        headers = {
            **self._headers,
            "Content-Type": "application/json",
            "User-Agent": "windvane-alerts/1",
            TIMESTAMP_HEADER: str(stamp),
            DELIVERY_HEADER: alert.dedupe_key,
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        return body, headers

    async def send(self, alert: Alert) -> None:
        """POST ``alert`` once; raise :class:`DeliveryError` unless the receiver answered 2xx."""
        body, headers = self.request_for(alert)
        try:
            async with (
                asyncio.timeout(self._timeout),  # httpx's own timeouts are per phase; this bounds the whole
                httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client,
            ):
                response = await client.post(self._url, content=body, headers=headers)
        except (httpx.TimeoutException, TimeoutError):
            raise self._error(f"no answer within {self._timeout:g}s") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise self._error(f"the URL is not usable ({type(exc).__name__})", permanent=True) from None
        except httpx.TransportError as exc:
            raise self._error(f"could not be reached ({type(exc).__name__}: {exc})") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        answer = f"answered {status} {response.text.strip()[:200]}".rstrip()
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise self._error(f"{answer} (rate limited)", retry_after=retry_after)
        raise self._error(answer, permanent=not (status >= 500 or status == 408))

    def _error(
        self, what: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> DeliveryError:
        message = f"webhook channel {self._name!r}: receiver at {self._host} {what}"
        for secret in (self._url, self._secret):
            if secret:
                message = message.replace(secret, "***")
        return DeliveryError(message, retry_after=retry_after, permanent=permanent)
