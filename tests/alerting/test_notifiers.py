"""Notifiers in callbacks: a realistic callback context in, one message out; failures logged, never raised."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.alerting.conftest import SmtpServer, free_port
from tests.alerting.fake_slack import WEBHOOK_PATH, FakeSlack, Reply
from windvane import DAG, BashOperator
from windvane.alerting import AlertKind, EmailNotifier, SlackNotifier, WebhookNotifier
from windvane.alerting.channels.email import SmtpConfig
from windvane.alerting.notifiers import alert_from_context
from windvane.core.task_api.task_instance import RuntimeTaskInstance

RUN_ID = "scheduled__2026-12-06T00:00:00+00:00"


def raised(message: str) -> BaseException:
    try:
        raise RuntimeError(message)
    except RuntimeError as exc:
        return exc


def task_context(*, try_number: int = 3, retries: int = 2, email: object = "bob@work.com") -> dict[str, Any]:
    with DAG("etl", start_date=datetime(2026, 1, 1, tzinfo=UTC), schedule="@daily") as dag:
        task = BashOperator(task_id="load", bash_command="exit 1", email=email, retries=retries)
    ti = RuntimeTaskInstance(
        dag_id="etl", task_id="load", run_id=RUN_ID, try_number=try_number, max_tries=retries
    )
    return {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "run_id": RUN_ID,
        "logical_date": datetime(2026, 12, 6, tzinfo=UTC),
        "exception": raised("Bash command failed: exit code 1 <stderr: disk & quota>"),
        "log_path": "/var/log/windvane/etl/load/3.log",
    }


def test_slack_notifier_posts_the_failure(fake_slack: FakeSlack) -> None:
    notifier = SlackNotifier(
        webhook_url=fake_slack.webhook_url, link="http://wv.example/dags/{dag_id}/runs/{run_id}"
    )
    notifier(task_context())

    [request] = fake_slack.requests
    payload = request.json()
    assert payload["text"].startswith("[windvane] task failed: etl.load (try 3 of 3)")
    text = json.dumps(payload)
    assert "RuntimeError: Bash command failed: exit code 1 &lt;stderr: disk &amp; quota&gt;" in text
    assert "http://wv.example/dags/etl/runs/scheduled__2026-12-06T00%3A00%3A00%2B00%3A00" in text


def test_email_notifier_mails_the_tasks_email_list(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(SmtpConfig(host=smtp_server.host, port=smtp_server.port, timeout=5))
    notifier(task_context(email="bob@work.com; ann@work.com"))

    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["bob@work.com", "ann@work.com"]
    assert mail.message["Subject"] == f"[windvane] task failed: etl.load (try 3 of 3) in run {RUN_ID}"
    assert "Bash command failed: exit code 1" in mail.part("plain")
    assert "/var/log/windvane/etl/load/3.log" in mail.part("plain")


def test_email_notifier_to_overrides_the_task_list(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(SmtpConfig(host=smtp_server.host, port=smtp_server.port), to=["oncall@work.com"])
    notifier(task_context(email=["bob@work.com"]))
    assert smtp_server.received[0].rcpt_tos == ["oncall@work.com"]


def test_webhook_notifier_sends_a_retry_when_tries_are_left(fake_slack: FakeSlack) -> None:
    WebhookNotifier(fake_slack.base_url + "/hook", secret="s")(task_context(try_number=1, retries=2))
    payload = fake_slack.requests[0].json()
    assert (payload["kind"], payload["try_number"], payload["max_tries"]) == ("task_retry", 1, 2)


def test_a_dag_context_becomes_a_run_failure() -> None:
    context = task_context()
    dag_context = {"dag": context["dag"], "run_id": RUN_ID, "reason": "task_failure", "state": "failed"}
    alert = alert_from_context(dag_context)
    assert (alert.kind, alert.dag_id, alert.task_id, alert.error) == (
        AlertKind.RUN_FAILED,
        "etl",
        None,
        "task_failure",
    )
    assert alert.state == "failed"


def test_a_failing_channel_is_logged_not_raised(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake_slack.script(Reply(500, "boom"))
    SlackNotifier(webhook_url=fake_slack.webhook_url)(task_context())
    assert "notifier slack could not deliver" in caplog.text
    assert "500 boom" in caplog.text
    assert WEBHOOK_PATH not in caplog.text


def test_a_dead_smtp_server_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    EmailNotifier(SmtpConfig(host="127.0.0.1", port=port, password="pw-never-shown", timeout=2))(
        task_context()
    )
    assert f"127.0.0.1:{port}" in caplog.text
    assert "pw-never-shown" not in caplog.text


def test_a_notifier_works_from_inside_an_event_loop(fake_slack: FakeSlack) -> None:
    notifier = SlackNotifier(webhook_url=fake_slack.webhook_url)

    async def callback_in_async_code() -> None:
        notifier(task_context())

    asyncio.run(callback_in_async_code())
    assert len(fake_slack.requests) == 1


def test_errors_in_building_the_alert_are_logged_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    notifier = SlackNotifier(webhook_url="http://127.0.0.1:9/x", link="http://x/{no_such_placeholder}")
    notifier(task_context())
    assert "could not deliver" in caplog.text


def test_a_notifier_as_sla_miss_callback_sends_one_sla_alert(smtp_server: SmtpServer) -> None:
    from datetime import timedelta

    from windvane.alerting.sla.decisions import SlaMiss

    context = task_context()
    due = datetime(2026, 12, 6, 0, 10, tzinfo=UTC)
    miss = SlaMiss("load", "etl", RUN_ID, datetime(2026, 12, 6, tzinfo=UTC), due + timedelta(minutes=5), due,
                   description="load was due at 00:10 (state running)")  # fmt: skip
    notifier = EmailNotifier(SmtpConfig(host=smtp_server.host, port=smtp_server.port, timeout=5))
    notifier(context["dag"], "load on 2026-12-06", "load on 2026-12-06", [miss], [])  # Airflow's signature

    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["bob@work.com"]  # the missed task's email list
    assert str(mail.message["Subject"]).strip() == f"[windvane] SLA missed: etl.load in run {RUN_ID}"
    assert "load was due at 00:10 (state running)" in mail.part("plain")


def test_a_notifier_called_with_other_arguments_says_what_it_takes() -> None:
    notifier = WebhookNotifier("http://127.0.0.1:9/hook")
    with pytest.raises(TypeError, match="one callback context, or sla_miss_callback's 5 arguments"):
        notifier({}, {})
