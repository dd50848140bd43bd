"""The email channel against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.alerting.alerts import TRACEBACK, make_alert
from tests.alerting.conftest import REFUSED, SMTP_PASSWORD, SMTP_USER, SmtpServer, free_port
from windvane.alerting.channels.base import DeliveryError
from windvane.alerting.channels.email import EmailChannel, SmtpConfig
from windvane.alerting.channels.templates import MAX_ERROR_CHARS, AlertTemplates
from windvane.errors import ConfigError

# The auth server allows AUTH without TLS on purpose (loopback); aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def config_for(server: SmtpServer, **changes: object) -> SmtpConfig:
    values: dict[str, object] = {"host": server.host, "port": server.port, "timeout": 5.0}
    values.update(changes)
    return SmtpConfig(mail_from="windvane@example.com", **values)  # type: ignore[arg-type]


def test_an_alert_arrives_as_plain_text_and_html(smtp_server: SmtpServer) -> None:
    alert = make_alert()
    asyncio.run(EmailChannel(config_for(smtp_server)).send(alert))

    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["bob@work.com", "ops@work.com"]
    assert mail.mail_from == "windvane@example.com"
    assert mail.message["Subject"] == alert.subject
    assert "(try 3 of 3)" in mail.message["Subject"]
    assert mail.message["To"] == "bob@work.com, ops@work.com"
    assert mail.message.get_content_type() == "multipart/alternative"
    text, html = mail.part("plain"), mail.part("html")
    for expected in ("etl", "load", alert.run_id, "3/3", "failed", alert.log_path, alert.link):
        assert expected in text
        assert str(expected) in html
    assert TRACEBACK.strip() in text
    assert "ValueError: rows &amp; columns &lt;mismatch&gt; in &#34;orders&#34;" in html
    assert "<mismatch>" not in html


def test_a_long_error_is_cut_keeping_its_end(smtp_server: SmtpServer) -> None:
    error = "".join(f"line {i}\n" for i in range(5000)) + "TheRealCause: disk full"
    asyncio.run(EmailChannel(config_for(smtp_server)).send(make_alert(error=error)))

    text = smtp_server.received[0].part("plain")
    assert "TheRealCause: disk full" in text
    assert "characters cut" in text
    assert "line 0\n" not in text
    assert len(text) < MAX_ERROR_CHARS + 1000


def test_templates_can_be_replaced(smtp_server: SmtpServer) -> None:
    templates = AlertTemplates(subject="ALERT {{ what }} try {{ tries }}", text="{{ alert.dag_id }} broke\n")
    asyncio.run(EmailChannel(config_for(smtp_server), templates=templates).send(make_alert()))

    mail = smtp_server.received[0]
    assert mail.message["Subject"] == "ALERT etl.load try 3/3"
    assert mail.part("plain") == "etl broke\n"
    assert "Open in Windvane" in mail.part("html")


def test_no_recipients_is_permanent_and_names_the_alert() -> None:
    channel = EmailChannel(SmtpConfig(port=free_port()))
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(channel.send(make_alert(recipients=())))
    assert caught.value.permanent
    assert "task_failed:etl:load:scheduled__2026-12-06:2" in str(caught.value)
    assert "etl.load" in str(caught.value)


def test_login_then_send_and_the_password_is_nowhere(smtp_auth_server: SmtpServer) -> None:
    channel = EmailChannel(config_for(smtp_auth_server, user=SMTP_USER, password=SMTP_PASSWORD))
    asyncio.run(channel.send(make_alert()))

    assert smtp_auth_server.sink.logins == [SMTP_USER]
    [mail] = smtp_auth_server.received
    assert SMTP_PASSWORD.encode() not in mail.raw
    assert SMTP_PASSWORD not in repr(channel)
    assert SMTP_PASSWORD not in repr(config_for(smtp_auth_server, password=SMTP_PASSWORD))


def test_a_wrong_password_is_permanent_and_not_shown(smtp_auth_server: SmtpServer) -> None:
    wrong = "wrong-Pa55"
    channel = EmailChannel(config_for(smtp_auth_server, user=SMTP_USER, password=wrong))
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(channel.send(make_alert()))
    message = str(caught.value)
    assert caught.value.permanent
    assert f"127.0.0.1:{smtp_auth_server.port}" in message
    assert "535" in message
    assert wrong not in message
    assert smtp_auth_server.received == []


def test_starttls_with_login(smtp_tls_server: SmtpServer) -> None:
    config = config_for(
        smtp_tls_server, user=SMTP_USER, password=SMTP_PASSWORD, starttls=True, validate_certs=False
    )
    asyncio.run(EmailChannel(config).send(make_alert()))
    assert len(smtp_tls_server.received) == 1
    assert smtp_tls_server.sink.logins == [SMTP_USER]


def test_a_dead_server_is_retryable_and_named() -> None:
    port = free_port()
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(EmailChannel(SmtpConfig(host="127.0.0.1", port=port, timeout=2)).send(make_alert()))
    assert not caught.value.permanent
    assert f"SMTP server 127.0.0.1:{port}" in str(caught.value)


def test_a_silent_server_times_out_retryably() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        channel = EmailChannel(SmtpConfig(host="127.0.0.1", port=port, timeout=0.5))
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            asyncio.run(channel.send(make_alert()))
    assert time.monotonic() - started < 5
    assert not caught.value.permanent
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_every_recipient_refused_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(EmailChannel(config_for(smtp_server)).send(make_alert(recipients=(REFUSED,))))
    assert caught.value.permanent
    assert REFUSED in str(caught.value) and "550" in str(caught.value)


def test_one_refused_recipient_does_not_stop_the_others(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    asyncio.run(EmailChannel(config_for(smtp_server)).send(make_alert(recipients=("bob@work.com", REFUSED))))
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["bob@work.com"]
    assert REFUSED in caplog.text


def test_starttls_and_ssl_together_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not both"):
        SmtpConfig(host="smtp.example", port=587, starttls=True, ssl=True)
