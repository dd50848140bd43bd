"""EmailOperator against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from tests.alerting.conftest import REFUSED, SMTP_PASSWORD, SMTP_USER, Sink, SmtpServer, free_port
from tests.io_operators.conftest import DictResolver
from windvane import DAG
from windvane.core.authoring.hooks.smtp import SmtpHook, address_list
from windvane.core.authoring.operators.email import EmailOperator
from windvane.core.task_api.mailer import SmtpParams, install_smtp_params
from windvane.errors import ConfigError, DagDefinitionError, TaskCommandError
from windvane.testing import run_task

START = pendulum.datetime(2024, 1, 1, tz="UTC")

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture
def smtp_settings(mail_server: SmtpServer) -> Iterator[SmtpParams]:
    """What the edge installs from ``[smtp]``: the loopback server, plain SMTP."""
    params = SmtpParams(host=mail_server.host, port=mail_server.port, mail_from="windvane@example.org")
    install_smtp_params(params)
    try:
        yield params
    finally:
        install_smtp_params(None)


def send(**kwargs: object) -> None:
    with DAG("mail", schedule=None, start_date=START, template_searchpath=kwargs.pop("searchpath", [])):
        op = EmailOperator(task_id="notify", **kwargs)  # type: ignore[arg-type]
    run_task(op, logical_date=pendulum.datetime(2024, 5, 6, tz="UTC"))


def test_sends_through_the_smtp_settings_with_cc_bcc_and_attachments(
    mail_server: SmtpServer, smtp_settings: SmtpParams, tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    send(
        to="ops@example.org; data@example.org",
        cc=["lead@example.org"],
        bcc="audit@example.org",
        subject="Report for {{ ds }}",
        html_content="<p>Rows: {{ params.rows }}</p>",
        files=[str(report)],
        params={"rows": 2},
        custom_headers={"Reply-To": "noreply@example.org"},
    )
    (mail,) = mail_server.received
    assert mail.mail_from == "windvane@example.org"
    assert sorted(mail.rcpt_tos) == sorted(
        ["ops@example.org", "data@example.org", "lead@example.org", "audit@example.org"]
    )
    message = mail.message
    assert message["Subject"] == "Report for 2024-05-06"
    assert message["To"] == "ops@example.org, data@example.org" and message["CC"] == "lead@example.org"
    assert message["Bcc"] is None and message["Reply-To"] == "noreply@example.org"
    assert mail.part("html") == "<p>Rows: 2</p>"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "report.csv" and attachment.get_content() == b"a,b\n1,2\n"


def test_an_html_file_is_rendered_and_from_email_wins(
    mail_server: SmtpServer, smtp_settings: SmtpParams, tmp_path: Path
) -> None:
    (tmp_path / "body.html").write_text("<h1>{{ dag.dag_id }} ok</h1>")
    send(
        to="ops@example.org",
        subject="done",
        html_content="body.html",
        from_email="etl@example.org",
        searchpath=[str(tmp_path)],
        mime_charset="iso-8859-1",
    )
    (mail,) = mail_server.received
    assert mail.mail_from == "etl@example.org" and mail.message["From"] == "etl@example.org"
    assert mail.part("html") == "<h1>mail ok</h1>"


def test_an_smtp_connection_logs_in(connections: DictResolver) -> None:
    from aiosmtpd.controller import Controller

    sink = Sink()
    controller = Controller(
        sink, hostname="127.0.0.1", port=free_port(), authenticator=sink.authenticate,
        auth_required=True, auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    try:
        extra = {"disable_ssl": True, "disable_tls": "true", "from_email": "conn@example.org"}
        conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": controller.port, "login": SMTP_USER}
        connections.add("mail", json.dumps({**conn, "password": SMTP_PASSWORD, "extra": extra}))
        connections.add("bad", json.dumps({**conn, "password": "wrong-Pa55word", "extra": extra}))
        send(to="ops@example.org", subject="s", html_content="<b>x</b>", conn_id="mail")
        assert sink.logins == [SMTP_USER]
        assert sink.received[0].mail_from == "conn@example.org"
        with pytest.raises(TaskCommandError) as caught:
            send(to="ops@example.org", subject="s", html_content="x", conn_id="bad")
        assert f"task 'notify': SMTP server 127.0.0.1:{controller.port} answered 535" in str(caught.value)
        assert "wrong-Pa55word" not in str(caught.value)
    finally:
        controller.stop()


def test_refused_recipients_and_an_unreachable_server_fail_the_task(
    mail_server: SmtpServer, smtp_settings: SmtpParams
) -> None:
    with pytest.raises(TaskCommandError, match="refused every recipient"):
        send(to=REFUSED, subject="s", html_content="x")
    send(to=[REFUSED, "ops@example.org"], subject="s", html_content="x")  # one accepted: sent
    assert mail_server.received[-1].rcpt_tos == ["ops@example.org"]
    install_smtp_params(SmtpParams(host="127.0.0.1", port=free_port(), password="Hidden-pw-123", timeout=5))
    with pytest.raises(TaskCommandError, match="could not be reached") as caught:
        send(to="ops@example.org", subject="s", html_content="x")
    assert "Hidden-pw-123" not in str(caught.value)


def test_without_smtp_settings_or_connection_it_says_email_is_not_configured() -> None:
    install_smtp_params(None)
    with pytest.raises(ConfigError, match=r"email is not configured: set \[smtp\] host"):
        send(to="ops@example.org", subject="s", html_content="x")


def test_connection_defaults_follow_airflows_smtp_provider(connections: DictResolver) -> None:
    connections.add("ssl", "smtp://u:p@mail.example.org")
    connections.add("tls", "smtp://mail.example.org:587?disable_ssl=true")
    assert (SmtpHook("ssl").params().ssl, SmtpHook("ssl").params().port) == (True, 465)
    tls = SmtpHook("tls").params()
    assert (tls.ssl, tls.starttls, tls.port) == (False, True, 587)


def test_address_lists_split_on_commas_and_semicolons() -> None:
    assert address_list("a@x, b@x;c@x") == ["a@x", "b@x", "c@x"]
    assert address_list(["a@x", "b@x; c@x"]) == ["a@x", "b@x", "c@x"]
    assert address_list(None) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"to": ""}, "to must name at least one recipient"),
        ({"to": ["a@x", 3]}, "to must be a string or a list of strings"),
        ({"mime_charset": "klingon"}, "mime_charset 'klingon' is not a known charset"),
        ({"files": "report.csv", "cc": 5}, "cc must be a string or a list of strings"),
        ({"custom_headers": {"X-A": 1}}, "custom_headers['X-A'] must be a string"),
    ],
)
def test_bad_arguments_fail_at_definition(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"to": "a@x", "subject": "s", "html_content": "h", **kwargs}
    with DAG("bad", schedule=None, start_date=START), pytest.raises(DagDefinitionError) as caught:
        EmailOperator(task_id="t", **args)  # type: ignore[arg-type]
    assert str(caught.value).startswith("task 't' of DAG 'bad': ") and message in str(caught.value)
