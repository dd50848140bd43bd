"""Block Kit building: escaping and cutting never break an entity or exceed a limit."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from tests.alerting.alerts import make_alert
from windvane.alerting.channels.retry_after import parse_retry_after
from windvane.alerting.channels.slack_blocks import build_message, escape, escaped_tail

ENTITY_OR_PLAIN = re.compile(r"&(?!amp;|lt;|gt;)")


def test_escape_covers_exactly_what_slack_asks() -> None:
    assert escape("a & b <c> 'd' \"e\" *f*") == "a &amp; b &lt;c&gt; 'd' \"e\" *f*"


@given(st.text(alphabet="ab&<>\n`", max_size=400), st.integers(min_value=60, max_value=300))
def test_escaped_tail_fits_and_keeps_whole_entities(text: str, budget: int) -> None:
    out = escaped_tail(text, budget)
    assert len(out) <= budget
    assert not ENTITY_OR_PLAIN.search(out)
    body = out.split("]\n", 1)[1] if out.startswith("[… ") else out
    assert text.replace("```", "`\u200b``").endswith(html.unescape(body))


@given(st.text(max_size=5000), st.text(min_size=1, max_size=600))
def test_every_block_stays_within_limits(error: str, task_id: str) -> None:
    payload = build_message(make_alert(error=error or None, task_id=task_id))
    for block in payload["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
    assert len(payload["text"]) <= 3000


def test_retry_after_reads_seconds_and_dates() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    from datetime import UTC, datetime

    now = datetime(2026, 12, 6, 22, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 06 Dec 2026 22:00:30 GMT", now=now) == 30.0
