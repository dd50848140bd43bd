"""The email channel: one alert, one multipart (plain text + HTML) message over SMTP with aiosmtplib.

Recipients are the alert's own (``alert.recipients``: the task's ``email`` list);
an alert without any is a permanent failure. One :meth:`EmailChannel.send` is one
SMTP session: connection errors, timeouts and 4xx answers are retryable, 5xx
answers (bad credentials, every recipient refused) permanent. Errors name the
server ``host:port`` and its answer, never the password.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from windvane.alerting.alert import Alert
from windvane.alerting.channels.base import DeliveryError
from windvane.alerting.channels.templates import AlertTemplates
from windvane.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to send mail (the ``[smtp]`` settings); the password stays out of ``repr``.

    ``starttls`` upgrades a plain connection with STARTTLS; ``ssl`` speaks TLS from
    the first byte (port 465). ``timeout`` (seconds) bounds each SMTP step.
    """

    host: str = "localhost"
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0
    mail_from: str = "windvane@localhost"
    validate_certs: bool = True

    def __post_init__(self) -> None:
        if self.starttls and self.ssl:
            raise ConfigError(
                f"smtp {self.host}:{self.port}: set starttls (upgrade a plain connection) or ssl "
                "(TLS from the start), not both"
            )

    @property
    def address(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"


class EmailChannel:
    """Sends each alert as one email to the alert's recipients."""

    def __init__(
        self, config: SmtpConfig, *, templates: AlertTemplates | None = None, name: str = "email"
    ) -> None:
        self._config = config
        self._templates = templates or AlertTemplates()
        self._name = name

    def __repr__(self) -> str:
        return f"EmailChannel(name={self._name!r}, server={self._config.address!r})"

    @property
    def name(self) -> str:
        """The channel's configured name."""
        return self._name

    def build_message(self, alert: Alert) -> EmailMessage:
        """The message :meth:`send` would send for ``alert`` (also handy for previews)."""
        rendered = self._templates.render(alert)
        message = EmailMessage()
        message["From"] = self._config.mail_from
        message["To"] = ", ".join(alert.recipients)
        message["Subject"] = rendered.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="windvane")
        message["X-Windvane-Dedupe-Key"] = alert.dedupe_key
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    async def send(self, alert: Alert) -> None:
        """Deliver ``alert`` in one SMTP session; raise :class:`DeliveryError` if it was not accepted."""
        if not alert.recipients:
            raise DeliveryError(
                f"email channel {self._name!r}: alert {alert.dedupe_key!r} ({alert.subject}) has no "
                "recipients (set the task's `email`)",
                permanent=True,
            )
        message = self.build_message(alert)
        config = self._config
        try:
            refused, _answer = await aiosmtplib.send(
                message,
                sender=config.mail_from,
                recipients=list(alert.recipients),
                hostname=config.host,
                port=config.port,
                username=config.user,
                password=config.password,
                use_tls=config.ssl,
                start_tls=config.starttls,
                validate_certs=config.validate_certs,
                timeout=config.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            answers = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            raise self._error(f"refused every recipient ({answers})", permanent=True) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise self._error(f"answered {exc.code} {exc.message}", permanent=exc.code >= 500) from None
        except (aiosmtplib.SMTPTimeoutError, TimeoutError):
            raise self._error(f"did not answer within {config.timeout:g}s") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._error(f"could not be reached: {exc}") from None
        if refused:
            # The others got it; retrying would send them a duplicate, so this counts as delivered.
            log.warning(
                "email channel %r: %s refused %s for alert %r",
                self._name,
                config.address,
                ", ".join(f"{addr} ({code} {text})" for addr, (code, text) in refused.items()),
                alert.dedupe_key,
            )

    def _error(self, what: str, *, permanent: bool = False) -> DeliveryError:
        message = f"email channel {self._name!r}: SMTP server {self._config.address} {what}"
        if self._config.password:
            message = message.replace(self._config.password, "***")
        return DeliveryError(message, permanent=permanent)
