"""The Slack channel: an incoming webhook URL, or a bot token + channel via ``chat.postMessage``.

Built on slack-sdk's synchronous clients (urllib, no extra HTTP stack) run in a
worker thread, with the SDK's own retry handlers off: one :meth:`SlackChannel.send`
is one HTTP request; the dispatcher retries. 429 gives a retryable error carrying
``Retry-After``; 5xx, ``internal_error``-like answers, connection errors and timeouts
are retryable; other 4xx and API errors (``invalid_auth``, ``channel_not_found``,
``invalid_payload``...) are permanent. Neither the token nor the webhook URL ever
appears in an error, a log line (the SDK's debug log, which prints both, is muted)
or ``repr``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from windvane.alerting.alert import Alert
from windvane.alerting.channels.base import DeliveryError
from windvane.alerting.channels.retry_after import header, parse_retry_after
from windvane.alerting.channels.slack_blocks import build_message
from windvane.errors import ConfigError

_sdk_log = logging.getLogger(f"{__name__}.sdk")
_sdk_log.setLevel(logging.WARNING)  # the SDK's DEBUG lines carry the URL and the Authorization header

TRANSIENT_API_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
"""``chat.postMessage`` errors worth retrying; every other ``ok: false`` answer is permanent."""


class SlackChannel:
    """Posts each alert as one Block Kit message, by webhook or by bot token."""

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        token: str | None = None,
        channel: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
        name: str = "slack",
    ) -> None:
        if bool(webhook_url) == bool(token):
            raise ConfigError(f"slack channel {name!r}: set exactly one of webhook_url or token (+ channel)")
        if token and not channel:
            raise ConfigError(f"slack channel {name!r}: a bot token needs a channel to post to")
        self._name = name
        self._channel = channel
        self._timeout = timeout
        self._secrets = tuple(s for s in (webhook_url, token) if s)
        # urllib takes a float timeout; the SDK's annotation says int.
        sdk_timeout = cast(int, timeout)
        self._webhook = (
            WebhookClient(webhook_url, timeout=sdk_timeout, logger=_sdk_log, retry_handlers=[])
            if webhook_url
            else None
        )
        self._web = (
            WebClient(
                token=token,
                base_url=base_url or WebClient.BASE_URL,
                timeout=sdk_timeout,
                logger=_sdk_log,
                retry_handlers=[],
            )
            if token
            else None
        )

    def __repr__(self) -> str:
        how = f"channel={self._channel!r}" if self._web else "webhook=***"
        return f"SlackChannel(name={self._name!r}, {how})"

    @property
    def name(self) -> str:
        """The channel's configured name."""
        return self._name

    async def send(self, alert: Alert) -> None:
        """Post ``alert`` once; raise :class:`DeliveryError` if Slack did not take it."""
        payload = build_message(alert)
        try:
            await asyncio.to_thread(self._post, payload)
        except DeliveryError:
            raise
        except (TimeoutError, ConnectionError) as exc:
            raise self._error(f"no answer from Slack ({type(exc).__name__}: {exc})") from None
        except OSError as exc:  # urllib's URLError and friends: DNS, refused, reset
            raise self._error(f"could not reach Slack ({exc})") from None
        except SlackClientError as exc:
            raise self._error(f"the Slack client refused the request ({exc})", permanent=True) from None

    def _post(self, payload: dict[str, Any]) -> None:
        if self._webhook is not None:
            response = self._webhook.send(text=payload["text"], blocks=payload["blocks"])
            self._check(response.status_code, response.headers, response.body)
            return
        assert self._web is not None
        try:
            self._web.chat_postMessage(channel=cast(str, self._channel), **payload)
        except SlackApiError as exc:
            data = exc.response.data
            error = data.get("error") if isinstance(data, dict) else None
            self._check(exc.response.status_code, exc.response.headers, str(error or data))

    def _check(self, status: int, headers: Mapping[str, Any], answer: str) -> None:
        answer = answer.strip()[:200] or "(empty body)"
        where = "webhook" if self._webhook is not None else f"chat.postMessage to {self._channel}"
        if status == 200 and self._webhook is not None:
            return  # chat.postMessage only gets here on an error: 200 with ok=false
        if status == 429 or answer == "ratelimited":
            retry_after = parse_retry_after(header(headers, "Retry-After"))
            raise self._error(f"{where} answered {status} {answer} (rate limited)", retry_after=retry_after)
        if status >= 500 or answer in TRANSIENT_API_ERRORS:
            raise self._error(f"{where} answered {status} {answer}")
        raise self._error(f"{where} answered {status} {answer}", permanent=True)

    def _error(
        self, what: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> DeliveryError:
        message = f"slack channel {self._name!r}: {what}"
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return DeliveryError(message, retry_after=retry_after, permanent=permanent)
