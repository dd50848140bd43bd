"""How each channel renders a message standing for several alerts (a group, or a run alert that
replaced its tasks'): pure rendering, no network."""

from __future__ import annotations

import json
from dataclasses import replace

from windvane.alerting.alert import AlertKind
from windvane.alerting.channels.email import EmailChannel, SmtpConfig
from windvane.alerting.channels.slack_blocks import FIELD_LIMIT, SECTION_LIMIT, build_message
from windvane.alerting.channels.webhook import WebhookChannel
from windvane.alerting.noise import LISTED, compose

from .alerts import TRACEBACK, make_alert


def members(n: int) -> list:  # type: ignore[type-arg]
    return [
        make_alert(
            task_id=f"task_{i:03d}",
            dedupe_key=f"task_failed|etl|task_{i:03d}|r|3|slack",
            hostname="worker-1",
            error=TRACEBACK + ("x" * 3000 if i == 7 else ""),
            log_path=f"/logs/etl/task_{i:03d}/3.log",
        )
        for i in range(n)
    ]


def test_slack_lists_a_group_within_its_limits() -> None:
    alerts = members(60)
    payload = build_message(compose(alerts[0], alerts, 60))
    texts = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "text" in b]
    [listing] = texts  # the list; no single task's error block for a group
    assert listing.startswith("*60 task failed alerts in this run*")
    assert len(listing) <= SECTION_LIMIT and "… and " in listing and "more" in listing
    assert "• task_000 try 3/3 on worker-1: ValueError: rows &amp; columns" in listing
    fields = [f["text"] for b in payload["blocks"] if b["type"] == "section" for f in b.get("fields", [])]
    assert "*Alerts*\n60" in fields and not any(f.startswith("*Task*") for f in fields)
    assert all(len(f) <= FIELD_LIMIT for f in fields)
    assert "x60" in payload["text"]


def test_a_run_alert_lists_the_task_alerts_it_replaced() -> None:
    run = make_alert(kind=AlertKind.RUN_FAILED, task_id=None, try_number=None, max_tries=None, error=None)
    replacing = compose(run, members(3), 3)
    payload = build_message(replacing)
    [listing] = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "text" in b]
    assert listing.startswith("*Replaces 3 task alerts of this run*") and "task_002" in listing
    text = EmailChannel(SmtpConfig()).build_message(replacing).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Replaces 3 task alerts of this run:" in text and "- task_001 try 3/3 on worker-1" in text


def test_email_of_a_group_says_how_many_and_lists_the_first() -> None:
    alerts = members(30)
    mail = EmailChannel(SmtpConfig()).build_message(compose(alerts[0], alerts, 30))
    assert mail["Subject"] == "[windvane] task failed x30: etl in run scheduled__2026-12-06T00:00:00+00:00"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "30 task failed alerts in this run:" in text
    assert text.count("\n- task_") == LISTED and "... and 10 more" in text
    assert "Task:" not in text and "Error (first of them):" in text
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert html.count("<li>") == LISTED and "rows &amp; columns &lt;mismatch&gt;" in html


def test_the_webhook_payload_of_a_group_has_a_count_and_the_alerts() -> None:
    alerts = members(25)
    body, _ = WebhookChannel("https://bridge.example/h").request_for(
        compose(alerts[0], alerts, 25), sent_at=1
    )
    payload = json.loads(body)
    assert payload["count"] == 25 and len(payload["alerts"]) == LISTED
    assert payload["alerts"][3]["task_id"] == "task_003" and "recipients" not in payload["alerts"][3]
    assert payload["severity"] == "critical" and payload["hostname"] == "worker-1"
    single = json.loads(WebhookChannel("https://b.example/").request_for(replace(alerts[0]), sent_at=1)[0])
    assert single["count"] == 1 and single["alerts"] == []
