"""The Slack channel against a local server answering like Slack (webhook and chat.postMessage)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from tests.alerting.alerts import make_alert
from tests.alerting.conftest import free_port
from tests.alerting.fake_slack import WEBHOOK_PATH, FakeSlack, Reply, api_error, ratelimited
from windvane.alerting.channels.base import DeliveryError
from windvane.alerting.channels.slack import SlackChannel
from windvane.errors import ConfigError

TOKEN = "xoxb-test-token"


def by_webhook(fake: FakeSlack, timeout: float = 5.0) -> SlackChannel:
    return SlackChannel(webhook_url=fake.webhook_url, timeout=timeout)


def by_token(fake: FakeSlack, token: str = TOKEN, channel: str = "#alerts") -> SlackChannel:
    return SlackChannel(token=token, channel=channel, base_url=fake.api_url, timeout=5.0)


def failure(channel: SlackChannel, **changes: Any) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(channel.send(make_alert(**changes)))
    return caught.value


def assert_no_secret(error: DeliveryError) -> None:
    text = f"{error} {error!r}"
    assert TOKEN not in text
    assert WEBHOOK_PATH not in text and "SECRET" not in text


def blocks_of(payload: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in payload["blocks"] if b["type"] == kind]


def test_webhook_posts_a_block_kit_message(fake_slack: FakeSlack) -> None:
    alert = make_alert()
    asyncio.run(by_webhook(fake_slack).send(alert))

    [request] = fake_slack.requests
    assert request.path == WEBHOOK_PATH
    payload = request.json()
    assert payload["text"] == alert.subject
    [header] = blocks_of(payload, "header")
    assert header["text"] == {"type": "plain_text", "text": alert.subject}
    fields = [f["text"] for f in blocks_of(payload, "section")[0]["fields"]]
    assert fields == [
        "*DAG*\netl",
        "*Task*\nload",
        f"*Run*\n{alert.run_id}",
        "*Try*\n3/3",
        "*State*\nfailed",
        "*Severity*\ncritical",
    ]
    error = blocks_of(payload, "section")[1]["text"]
    assert error["type"] == "mrkdwn"
    assert error["text"].startswith("*Error*\n```Traceback")
    assert 'rows &amp; columns &lt;mismatch&gt; in "orders"' in error["text"]
    assert "<module>" not in error["text"]
    [actions] = blocks_of(payload, "actions")
    assert actions["elements"][0]["url"] == alert.link
    assert "/var/log/windvane/etl/load/3.log" in blocks_of(payload, "context")[0]["elements"][0]["text"]


def test_long_texts_are_cut_to_slacks_limits(fake_slack: FakeSlack) -> None:
    error = "".join(f"frame {i} <x> & y\n" for i in range(2000)) + "Boom: the real cause"
    asyncio.run(by_webhook(fake_slack).send(make_alert(task_id="t" * 400, error=error, link=None)))

    payload = fake_slack.requests[0].json()
    assert len(blocks_of(payload, "header")[0]["text"]["text"]) <= 150
    for section in blocks_of(payload, "section"):
        assert len(section.get("text", {}).get("text", "")) <= 3000
        assert all(len(f["text"]) <= 2000 for f in section.get("fields", []))
    excerpt = blocks_of(payload, "section")[1]["text"]["text"]
    assert excerpt.endswith("Boom: the real cause```")
    assert "characters cut" in excerpt
    assert blocks_of(payload, "actions") == []


@pytest.mark.parametrize(
    ("reply", "permanent", "shown"),
    [
        (Reply(400, "invalid_payload"), True, "400 invalid_payload"),
        (Reply(404, "no_service"), True, "404 no_service"),
        (Reply(403, "action_prohibited"), True, "403 action_prohibited"),
        (Reply(500, "internal server error"), False, "500 internal server error"),
        (Reply(503, ""), False, "503"),
    ],
)
def test_webhook_answers_are_classified(
    fake_slack: FakeSlack, reply: Reply, permanent: bool, shown: str
) -> None:
    fake_slack.script(reply)
    error = failure(by_webhook(fake_slack))
    assert error.permanent is permanent
    assert error.retry_after is None
    assert shown in str(error)
    assert_no_secret(error)
    assert len(fake_slack.requests) == 1  # one send, one attempt: the SDK does not retry


def test_webhook_429_carries_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.script(ratelimited(7))
    error = failure(by_webhook(fake_slack))
    assert not error.permanent
    assert error.retry_after == 7.0
    assert "429" in str(error)
    assert len(fake_slack.requests) == 1


def test_a_slow_slack_times_out_retryably(fake_slack: FakeSlack) -> None:
    fake_slack.script(Reply(200, "ok", delay=30))
    started = time.monotonic()
    error = failure(by_webhook(fake_slack, timeout=0.5))
    assert time.monotonic() - started < 10
    assert not error.permanent
    assert_no_secret(error)


def test_nobody_listening_is_retryable() -> None:
    url = f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}"
    error = failure(SlackChannel(webhook_url=url, timeout=2))
    assert not error.permanent
    assert_no_secret(error)


def test_chat_post_message_with_a_bot_token(fake_slack: FakeSlack) -> None:
    alert = make_alert()
    asyncio.run(by_token(fake_slack).send(alert))

    [request] = fake_slack.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    payload = request.json()
    assert payload["channel"] == "#alerts"
    assert payload["text"] == alert.subject
    assert blocks_of(payload, "header")[0]["text"]["text"] == alert.subject


def test_invalid_auth_is_permanent_and_hides_the_token(fake_slack: FakeSlack) -> None:
    error = failure(by_token(fake_slack, token="xoxb-wrong-token"))
    assert error.permanent
    assert "invalid_auth" in str(error)
    assert "xoxb-wrong-token" not in str(error)


@pytest.mark.parametrize(
    ("reply", "permanent", "retry_after", "shown"),
    [
        (api_error("channel_not_found"), True, None, "channel_not_found"),
        (api_error("not_in_channel"), True, None, "not_in_channel"),
        (api_error("internal_error"), False, None, "internal_error"),
        (ratelimited(12, api=True), False, 12.0, "ratelimited"),
        (Reply(500, "oops"), False, None, "500"),
        (Reply(502, {"ok": False, "error": "fatal_error"}), False, None, "502 fatal_error"),
    ],
)
def test_api_answers_are_classified(
    fake_slack: FakeSlack, reply: Reply, permanent: bool, retry_after: float | None, shown: str
) -> None:
    fake_slack.script(reply)
    error = failure(by_token(fake_slack))
    assert (error.permanent, error.retry_after) == (permanent, retry_after)
    assert shown in str(error)
    assert_no_secret(error)
    assert len(fake_slack.requests) == 1


def test_secrets_stay_out_of_repr_and_logs(fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hook, bot = by_webhook(fake_slack), by_token(fake_slack)
    fake_slack.script(Reply(500, "boom"), Reply(500, "boom"))
    for channel in (hook, bot):
        failure(channel)
        assert "SECRET" not in repr(channel) and TOKEN not in repr(channel)
    assert "SECRET" not in caplog.text and TOKEN not in caplog.text


def test_a_channel_needs_one_way_in() -> None:
    with pytest.raises(ConfigError):
        SlackChannel()
    with pytest.raises(ConfigError):
        SlackChannel(webhook_url="http://x", token=TOKEN, channel="#a")
    with pytest.raises(ConfigError, match="channel"):
        SlackChannel(token=TOKEN)
