"""The channel contract: send one alert, or say precisely why not and whether to try again."""

from __future__ import annotations

from typing import Protocol

from windvane.alerting.alert import Alert
from windvane.errors import WindvaneError


class DeliveryError(WindvaneError):
    """A channel could not deliver an alert.

    ``retry_after`` (seconds) is the earliest sensible retry the far end asked for
    (Slack's ``Retry-After``), None when the dispatcher's own backoff applies.
    ``permanent`` means retrying cannot help (invalid credentials, a rejected
    address): the alert is marked dead at once. The message names the channel and
    the far end's answer, never a secret (token, password, webhook URL).
    """

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Channel(Protocol):
    """Delivers alerts to one destination; safe to call from one asyncio loop at a time."""

    @property
    def name(self) -> str:
        """The channel's configured name (``"email"``, ``"slack"``, ``"webhook"``...)."""
        ...

    async def send(self, alert: Alert) -> None:
        """Deliver ``alert`` once; raise :class:`DeliveryError` when it was not delivered."""
        ...
