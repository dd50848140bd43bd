"""The webhook channel against a local receiver: signed, versioned JSON; answers classified."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.alerting.alerts import make_alert
from tests.alerting.conftest import free_port
from tests.alerting.fake_slack import FakeSlack, Reply
from windvane.alerting.channels.base import DeliveryError
from windvane.alerting.channels.webhook import WebhookChannel, sign, verify

SECRET = "whsec-shared-secret"


def channel_for(receiver: FakeSlack, **options: object) -> WebhookChannel:
    url = receiver.base_url + "/hooks/windvane?key=url-embedded-key"
    options = {"timeout": 5.0, **options}
    return WebhookChannel(url, secret=SECRET, **options)  # type: ignore[arg-type]


def failure(channel: WebhookChannel) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(channel.send(make_alert()))
    assert "url-embedded-key" not in str(caught.value) and SECRET not in str(caught.value)
    return caught.value


def test_the_payload_is_versioned_json_with_a_verifiable_signature(fake_slack: FakeSlack) -> None:
    alert = make_alert()
    before = int(time.time())
    asyncio.run(channel_for(fake_slack, headers={"X-Team": "data"}).send(alert))

    [request] = fake_slack.requests
    assert request.path == "/hooks/windvane?key=url-embedded-key"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-team"] == "data"
    assert request.headers["x-windvane-delivery"] == alert.dedupe_key
    assert verify(SECRET, request.body, request.headers["x-windvane-signature"])
    assert not verify("another-secret", request.body, request.headers["x-windvane-signature"])
    assert not verify(SECRET, request.body + b" ", request.headers["x-windvane-signature"])
    payload = json.loads(request.body)
    assert payload == {
        "version": 1,
        "kind": "task_failed",
        "dedupe_key": alert.dedupe_key,
        "dag_id": "etl",
        "task_id": "load",
        "run_id": alert.run_id,
        "try_number": 3,
        "max_tries": 2,
        "state": "failed",
        "error": alert.error,
        "log_path": alert.log_path,
        "hostname": None,
        "link": alert.link,
        "occurred_at": "2026-12-06T22:00:00+00:00",
        "severity": "critical",
        "count": 1,
        "alerts": [],
        "subject": alert.subject,
        "sent_at": payload["sent_at"],
    }
    assert payload["sent_at"] >= before
    assert request.headers["x-windvane-timestamp"] == str(payload["sent_at"])


def test_the_signature_is_hmac_sha256_of_the_raw_body() -> None:
    # Known answer (RFC 4231-style check with Python's hmac, computed independently).
    assert sign("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_without_a_secret_there_is_no_signature(fake_slack: FakeSlack) -> None:
    asyncio.run(WebhookChannel(fake_slack.base_url + "/h").send(make_alert()))
    assert "x-windvane-signature" not in fake_slack.requests[0].headers


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered(fake_slack: FakeSlack, status: int) -> None:
    fake_slack.script(Reply(status, ""))
    asyncio.run(channel_for(fake_slack).send(make_alert()))
    assert len(fake_slack.requests) == 1


@pytest.mark.parametrize(
    ("reply", "permanent", "retry_after"),
    [
        (Reply(429, "slow down", {"Retry-After": "30"}), False, 30.0),
        (Reply(429, "slow down"), False, None),
        (Reply(500, "boom"), False, None),
        (Reply(503, "unavailable"), False, None),
        (Reply(408, "request timeout"), False, None),
        (Reply(400, "bad json"), True, None),
        (Reply(401, "bad signature"), True, None),
        (Reply(404, "no such hook"), True, None),
        (Reply(301, "", {"Location": "http://elsewhere/"}), True, None),
    ],
)
def test_answers_are_classified(
    fake_slack: FakeSlack, reply: Reply, permanent: bool, retry_after: float | None
) -> None:
    fake_slack.script(reply)
    error = failure(channel_for(fake_slack))
    assert (error.permanent, error.retry_after) == (permanent, retry_after)
    assert f"answered {reply.status}" in str(error)
    assert fake_slack.base_url.removeprefix("http://") in str(error)
    assert len(fake_slack.requests) == 1


def test_a_slow_receiver_times_out_retryably(fake_slack: FakeSlack) -> None:
    fake_slack.script(Reply(200, "ok", delay=30))
    started = time.monotonic()
    error = failure(channel_for(fake_slack, timeout=0.5))
    assert time.monotonic() - started < 10
    assert not error.permanent
    assert "0.5s" in str(error)


def test_nobody_listening_is_retryable() -> None:
    error = failure(WebhookChannel(f"http://127.0.0.1:{free_port()}/h?key=url-embedded-key", secret=SECRET))
    assert not error.permanent


def test_an_unusable_url_is_permanent() -> None:
    error = failure(WebhookChannel("ftp://example.invalid/h?key=url-embedded-key"))
    assert error.permanent


def test_repr_shows_only_the_host() -> None:
    channel = WebhookChannel("https://user:pw@hooks.example.com/T/abc?key=url-embedded-key", secret=SECRET)
    assert repr(channel) == "WebhookChannel(name='webhook', host='hooks.example.com')"


def test_a_trickling_receiver_is_cut_off_at_the_timeout() -> None:
    """Bytes arriving just inside httpx's per-read timeout still cannot hold a send past ``timeout``."""
    import socket
    import threading

    stop = threading.Event()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def trickle() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                while not stop.wait(0.2):
                    conn.sendall(b"x")

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        started = time.monotonic()
        error = failure(WebhookChannel(f"http://127.0.0.1:{port}/h?key=url-embedded-key", timeout=1.0))
        elapsed = time.monotonic() - started
        stop.set()
        thread.join(timeout=5)
    assert elapsed < 5
    assert not error.permanent
