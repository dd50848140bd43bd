"""``SmtpHook``: send an email (HTML body, attachments) with aiosmtplib (Airflow's ``send_email``).

The server comes from a Connection when ``smtp_conn_id`` is given — ``host``, ``port``, ``login``,
``password``, and Airflow's smtp extras: ``disable_ssl`` (default false: TLS from the first byte,
as Airflow's smtp provider does), ``disable_tls`` (default false: STARTTLS when not over SSL),
``from_email``, ``timeout`` — else from the ``[smtp]`` settings the process installed
(:mod:`windvane.core.task_api.mailer`). aiosmtplib is imported only when a mail is sent.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

from windvane.core.authoring.hooks.base import BaseHook
from windvane.core.task_api.mailer import SmtpParams, installed_smtp_params
from windvane.errors import ConfigError, TaskCommandError

log = logging.getLogger("windvane.task")

_SEPARATORS = re.compile(r"[,;]")


def address_list(addresses: str | Iterable[str] | None) -> list[str]:
    """Addresses from a string separated by ``,`` or ``;``, or from a list (Airflow's rule)."""
    if addresses is None:
        return []
    items = [addresses] if isinstance(addresses, str) else list(addresses)
    return [part.strip() for item in items for part in _SEPARATORS.split(item) if part.strip()]


class SmtpHook(BaseHook):
    """Send mail through connection ``smtp_conn_id`` or, without one, the installed ``[smtp]`` settings."""

    def __init__(self, smtp_conn_id: str | None = None) -> None:
        self.smtp_conn_id = smtp_conn_id

    def params(self) -> SmtpParams:
        """The server to send through (see the module doc)."""
        if self.smtp_conn_id is None:
            installed = installed_smtp_params()
            if installed is None:
                raise ConfigError(
                    "email is not configured: set [smtp] host in the settings, or pass conn_id naming an "
                    "smtp connection"
                )
            return installed
        conn = self.get_connection(self.smtp_conn_id)
        extra = conn.extra_dejson
        ssl = not _truthy(extra.get("disable_ssl", False))
        if not conn.host:
            raise ConfigError(f"connection {self.smtp_conn_id!r}: an smtp connection needs a host")
        return SmtpParams(
            host=conn.host,
            port=conn.port or (465 if ssl else 25),
            user=conn.login or None,
            password=conn.password or None,
            ssl=ssl,
            starttls=not ssl and not _truthy(extra.get("disable_tls", False)),
            timeout=float(extra.get("timeout", 30)),
            mail_from=str(extra.get("from_email") or "windvane@localhost"),
        )

    def build_message(
        self,
        *,
        mail_from: str,
        to: Sequence[str],
        subject: str,
        html_content: str,
        files: Sequence[str] = (),
        cc: Sequence[str] = (),
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        custom_headers: Mapping[str, str] | None = None,
    ) -> Message:
        """The MIME message (Airflow's layout: a multipart with the HTML part and one part per file)."""
        message = MIMEMultipart(mime_subtype)
        message["Subject"] = subject
        message["From"] = mail_from
        message["To"] = ", ".join(to)
        if cc:
            message["CC"] = ", ".join(cc)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="windvane")
        message.attach(MIMEText(html_content, "html", mime_charset))
        for path in files:
            name = os.path.basename(path)
            try:
                with open(path, "rb") as handle:
                    part = MIMEApplication(handle.read(), Name=name)
            except OSError as exc:
                raise TaskCommandError(f"cannot attach {path!r}: {exc.strerror or exc}") from None
            part["Content-Disposition"] = f'attachment; filename="{name}"'
            part["Content-ID"] = f"<{name}>"
            message.attach(part)
        for key, value in (custom_headers or {}).items():
            message[key] = value
        return message

    def send_email(
        self,
        to: str | Iterable[str],
        subject: str,
        html_content: str,
        *,
        files: Sequence[str] = (),
        cc: str | Iterable[str] | None = None,
        bcc: str | Iterable[str] | None = None,
        mime_subtype: str = "mixed",
        mime_charset: str = "utf-8",
        from_email: str | None = None,
        custom_headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send one email to ``to``, ``cc`` and ``bcc`` (bcc is not a header); a refusal raises
        :class:`TaskCommandError` naming the server and its answer, never the password."""
        params = self.params()
        recipients_to, recipients_cc = address_list(to), address_list(cc)
        recipients = [*recipients_to, *recipients_cc, *address_list(bcc)]
        if not recipients:
            raise TaskCommandError("email has no recipients")
        message = self.build_message(
            mail_from=from_email or params.mail_from,
            to=recipients_to,
            subject=subject,
            html_content=html_content,
            files=files,
            cc=recipients_cc,
            mime_subtype=mime_subtype,
            mime_charset=mime_charset,
            custom_headers=custom_headers,
        )
        _send(params, message, from_email or params.mail_from, recipients)
        log.info("Sent an email to %s via %s", ", ".join(recipients), params.address)


def _send(params: SmtpParams, message: Message, sender: str, recipients: list[str]) -> None:
    import asyncio

    import aiosmtplib

    def error(what: str) -> TaskCommandError:
        text = f"SMTP server {params.address} {what}"
        return TaskCommandError(text.replace(params.password, "***") if params.password else text)

    try:
        refused, _answer = asyncio.run(
            aiosmtplib.send(
                message,
                sender=sender,
                recipients=recipients,
                hostname=params.host,
                port=params.port,
                username=params.user,
                password=params.password,
                use_tls=params.ssl,
                start_tls=params.starttls,
                validate_certs=params.validate_certs,
                timeout=params.timeout,
            )
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        answers = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        raise error(f"refused every recipient ({answers})") from None
    except aiosmtplib.SMTPResponseException as exc:
        raise error(f"answered {exc.code} {exc.message}") from None
    except (aiosmtplib.SMTPTimeoutError, TimeoutError):
        raise error(f"did not answer within {params.timeout:g}s") from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise error(f"could not be reached: {exc}") from None
    if refused:
        log.warning(
            "SMTP server %s refused %s (the other recipients got the email)",
            params.address,
            ", ".join(f"{addr} ({code} {text})" for addr, (code, text) in refused.items()),
        )


def _truthy(value: object) -> bool:
    """An extra's flag: JSON true or the text "true"/"1"/"yes" (URI extras are strings)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)
