"""Channels come from their own settings sections; half a configuration is an error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from windvane.alerting.channels.email import EmailChannel
from windvane.alerting.channels.slack import SlackChannel
from windvane.alerting.channels.webhook import WebhookChannel
from windvane.alerting.service import configured_channels
from windvane.errors import ConfigError
from windvane.settings import load_settings


def channels_for(tmp_path: Path, **sections: dict[str, object]) -> dict[str, object]:
    return dict(configured_channels(load_settings(home=tmp_path, environ={}, overrides=sections)))


def test_no_section_configured_means_no_channel(tmp_path: Path) -> None:
    assert channels_for(tmp_path) == {}


def test_each_configured_section_builds_its_channel(tmp_path: Path) -> None:
    found = channels_for(
        tmp_path,
        smtp={"host": "mail.example", "port": 587, "starttls": True, "user": "u", "password": "hunter2"},
        slack={"webhook_url": "https://hooks.example/T/B/x"},
        webhook={"webhook_url": "https://bridge.example/in", "secret": "k"},
    )
    assert isinstance(found["email"], EmailChannel)
    assert isinstance(found["slack"], SlackChannel)
    assert isinstance(found["webhook"], WebhookChannel)
    assert "hunter2" not in repr(found["email"]) and "hooks.example" not in repr(found["slack"])


def test_a_bot_token_without_a_channel_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="channel"):
        channels_for(tmp_path, slack={"token": "xoxb-1"})
