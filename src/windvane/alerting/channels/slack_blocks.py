"""An alert as a Slack Block Kit message, within Slack's documented limits.

Pure functions, no I/O: :func:`build_message` gives the ``{"text", "blocks"}``
payload both the incoming webhook and ``chat.postMessage`` take. Limits kept:
header text <= 150 characters, section text <= 3000, each field <= 2000 and at most
10 fields, button URL <= 3000. User text in ``mrkdwn`` is escaped (``& < >``).
"""

from __future__ import annotations

from typing import Any

from windvane.alerting.alert import Alert
from windvane.alerting.channels.templates import kind_words, late_words, member_line, members_title, tries_of

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
URL_LIMIT = 3000
FALLBACK_LIMIT = 3000
CUT = "…"
_FENCE = "```"


def escape(text: str) -> str:
    """``text`` safe inside Slack ``mrkdwn``: only ``&``, ``<`` and ``>`` need escaping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def escaped_tail(text: str, budget: int) -> str:
    """The escaped tail of ``text`` that fits ``budget`` characters (never splitting an entity).

    Errors say the most at their end, so the head is dropped and a marker says so.
    """
    text = text.replace(_FENCE, "`\u200b``")  # a fence in the error would close our code block
    whole = escape(text)
    if len(whole) <= budget:
        return whole
    keep = budget
    while keep > 0:
        marker = f"[… {len(text) - keep} characters cut]\n"
        candidate = marker + escape(text[len(text) - keep :])
        if len(candidate) <= budget:
            return candidate
        keep -= len(candidate) - budget
    return ""


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(f"*{label}*\n{escape(value)}", FIELD_LIMIT)}


def members_text(alert: Alert) -> str:
    """The mrkdwn list of a message's alerts (a group's, or those a run alert replaced), within
    :data:`SECTION_LIMIT`: whole lines only, then how many were left out."""
    head = f"*{escape(members_title(alert))}*"
    lines = [f"• {escape(member_line(m))}" for m in alert.members]
    shown: list[str] = []
    for line in lines:
        line = clip(line, 500)
        if len("\n".join([head, *shown, line])) + 60 > SECTION_LIMIT:
            break
        shown.append(line)
    more = alert.member_count - len(shown)
    tail = [f"… and {more} more (see `windvane alerts list`)"] if more > 0 else []
    return "\n".join([head, *shown, *tail])


def build_message(alert: Alert) -> dict[str, Any]:
    """The Slack payload (``text`` fallback plus ``blocks``) announcing ``alert``."""
    kind = kind_words(alert)
    fields = [_field("DAG", alert.dag_id)]
    if alert.task_id and not alert.is_group:
        fields.append(_field("Task", alert.task_id))
    fields.append(_field("Run", alert.run_id))
    tries = tries_of(alert)
    if tries and not alert.is_group:
        fields.append(_field("Try", tries))
    fields.append(_field("State", alert.state or kind))
    late = late_words(alert)
    if alert.due_at is not None and late is not None:
        fields.append(_field("Due at", alert.due_at.isoformat()))
        fields.append(_field("Late by", late))
    fields.append(_field("Severity", alert.severity.value))
    if alert.is_group:
        fields.append(_field("Alerts", str(alert.member_count)))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(alert.subject, HEADER_LIMIT)}},
        {"type": "section", "fields": fields[:10]},
    ]
    if alert.members:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": members_text(alert)}})
    if alert.error and not alert.is_group:
        budget = SECTION_LIMIT - len("*Error*\n") - 2 * len(_FENCE)
        excerpt = escaped_tail(alert.error, budget)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Error*\n{_FENCE}{excerpt}{_FENCE}"}}
        )
    context = [f"{kind} at {alert.occurred_at.isoformat()}"]
    if alert.hostname:
        context.append(f"host: {alert.hostname}")
    if alert.log_path:
        context.append(f"log: `{alert.log_path}`")
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": clip(escape(" · ".join(context)), FIELD_LIMIT)}],
        }
    )
    if alert.link and len(alert.link) <= URL_LIMIT:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in Windvane"},
            "url": alert.link,
            "action_id": "windvane_open",
        }
        blocks.append({"type": "actions", "elements": [button]})
    return {"text": clip(escape(alert.subject), FALLBACK_LIMIT), "blocks": blocks}
