"""Email templates: the Jinja sources for subject, plain-text and HTML bodies, and their rendering.

The defaults are module constants; pass your own :class:`AlertTemplates` (any field
may be replaced) to :class:`~windvane.alerting.channels.email.EmailChannel`. Every
template sees ``alert`` (the :class:`~windvane.alerting.alert.Alert`), ``what``
(``dag.task`` or ``dag``), ``tries`` (``"2/3"`` or ``None``), ``error`` (the error
summary cut to :data:`MAX_ERROR_CHARS`), ``kind`` (``"task failed"``...),
``members`` (one line each for the alerts a grouped message lists, or that a run
alert replaced: :func:`member_line`), ``members_title`` (``"20 task failed alerts
in this run"``, ``"Replaces 3 task alerts"``), ``more`` (how many are not listed)
and, for SLA misses and recoveries, ``late`` (``"1h 2m 3s"``; else ``None``)
beside ``alert.due_at``.
The HTML template is rendered with autoescaping; the text ones are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2

from windvane.alerting.alert import Alert, AlertKind, human

MAX_ERROR_CHARS = 4000
"""An error summary longer than this is cut (its tail kept: the last lines say most)."""

DEFAULT_SUBJECT = "{{ alert.subject }}"

DEFAULT_TEXT = """\
Windvane: {{ kind }}

DAG:    {{ alert.dag_id }}
{% if alert.task_id and not alert.is_group %}Task:   {{ alert.task_id }}
{% endif %}Run:    {{ alert.run_id }}
{% if tries and not alert.is_group %}Try:    {{ tries }}
{% endif %}{% if alert.state %}State:  {{ alert.state }}
{% endif %}When:   {{ alert.occurred_at.isoformat() }}
{% if alert.due_at %}Due at: {{ alert.due_at.isoformat() }}
Late by: {{ late }}
{% endif %}{% if alert.hostname %}Host:   {{ alert.hostname }}
{% endif %}{% if alert.log_path %}Log:    {{ alert.log_path }}
{% endif %}{% if alert.link %}Link:   {{ alert.link }}
{% endif %}{% if members %}
{{ members_title }}:
{% for line in members %}- {{ line }}
{% endfor %}{% if more %}... and {{ more }} more (see `windvane alerts list`)
{% endif %}{% endif %}{% if error %}
Error{% if members and not alert.kind.value == "run_failed" %} (first of them){% endif %}:
{{ error }}
{% endif %}"""

DEFAULT_HTML = """\
<html><body style="font-family: sans-serif">
<h2>Windvane: {{ kind }}</h2>
<table>
<tr><th align="left">DAG</th><td>{{ alert.dag_id }}</td></tr>
{% if alert.task_id and not alert.is_group -%}
<tr><th align="left">Task</th><td>{{ alert.task_id }}</td></tr>{% endif %}
<tr><th align="left">Run</th><td>{{ alert.run_id }}</td></tr>
{% if tries and not alert.is_group %}<tr><th align="left">Try</th><td>{{ tries }}</td></tr>{% endif %}
{% if alert.state %}<tr><th align="left">State</th><td>{{ alert.state }}</td></tr>{% endif %}
<tr><th align="left">When</th><td>{{ alert.occurred_at.isoformat() }}</td></tr>
{% if alert.due_at %}<tr><th align="left">Due at</th><td>{{ alert.due_at.isoformat() }}</td></tr>
<tr><th align="left">Late by</th><td>{{ late }}</td></tr>{% endif %}
{% if alert.hostname %}<tr><th align="left">Host</th><td>{{ alert.hostname }}</td></tr>{% endif %}
{% if alert.log_path %}<tr><th align="left">Log</th><td><code>{{ alert.log_path }}</code></td></tr>{% endif %}
</table>
{% if members %}<h3>{{ members_title }}</h3>
<ul>{% for line in members %}<li>{{ line }}</li>{% endfor %}</ul>
{% if more %}<p>... and {{ more }} more (see <code>windvane alerts list</code>)</p>{% endif %}{% endif %}
{% if error %}<h3>Error</h3><pre>{{ error }}</pre>{% endif %}
{% if alert.link %}<p><a href="{{ alert.link }}">Open in Windvane</a></p>{% endif %}
</body></html>
"""


def bounded_error(error: str | None, limit: int = MAX_ERROR_CHARS) -> str | None:
    """``error`` cut to ``limit`` characters, keeping its tail and saying how much was dropped."""
    if error is None or len(error) <= limit:
        return error
    marker = f"[... {len(error) - limit} characters cut ...]\n"
    return marker + error[len(error) - limit + len(marker) :]


def tries_of(alert: Alert) -> str | None:
    """``"n/m"`` (try n of m tries in all) when the alert knows both, else None."""
    if alert.try_number is None or alert.max_tries is None:
        return None
    return f"{alert.try_number}/{alert.max_tries + 1}"


def last_line(error: str | None, limit: int = 200) -> str:
    """The last non-empty line of ``error`` (where Python puts the exception), at most ``limit``."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def member_line(member: Alert) -> str:
    """One listed alert of a group: ``load[3] try 2/3 on host: ValueError: ... (log: /path)``."""
    what = member.task_id or member.dag_id
    tries = tries_of(member)
    parts = [what + (f" try {tries}" if tries else "")]
    if member.hostname:
        parts[0] += f" on {member.hostname}"
    error = last_line(member.error)
    if error:
        parts.append(error)
    line = ": ".join(parts)
    if member.log_path:
        line += f" (log: {member.log_path})"
    return line


def members_title(alert: Alert) -> str:
    """The heading of a message's list of alerts."""
    if alert.kind is AlertKind.RUN_FAILED:
        noun = "task alert" if alert.member_count == 1 else "task alerts"
        return f"Replaces {alert.member_count} {noun} of this run"
    return f"{alert.member_count} {alert.kind.value.replace('_', ' ')} alerts in this run"


def kind_words(alert: Alert) -> str:
    """The alert's kind in words: ``task failed``, ``SLA missed``, ``run deadline missed``..."""
    if alert.kind is AlertKind.SLA_MISS:
        return "SLA missed" if alert.task_id else "run deadline missed"
    if alert.kind is AlertKind.RECOVERED and alert.due_at is not None:
        return "recovered after missing its SLA" if alert.task_id else "recovered after missing its deadline"
    return alert.kind.value.replace("_", " ")


def late_words(alert: Alert) -> str | None:
    """How late an SLA alert is, as ``1h 2m 3s``; None for other alerts."""
    late = alert.late_by
    return None if late is None else human(late)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One alert as an email: a single-line subject and both bodies."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class AlertTemplates:
    """The Jinja sources of an alert email; each field defaults to the shipped template."""

    subject: str = DEFAULT_SUBJECT
    text: str = DEFAULT_TEXT
    html: str = DEFAULT_HTML

    def render(self, alert: Alert) -> RenderedEmail:
        """Render all three for ``alert`` (a template error propagates as jinja2's own error)."""
        values: dict[str, Any] = {
            "alert": alert,
            "what": f"{alert.dag_id}.{alert.task_id}" if alert.task_id else alert.dag_id,
            "tries": tries_of(alert),
            "error": bounded_error(alert.error),
            "kind": kind_words(alert),
            "late": late_words(alert),
            "members": [member_line(m) for m in alert.members],
            "members_title": members_title(alert),
            "more": max(alert.member_count - len(alert.members), 0),
        }
        plain = jinja2.Environment(
            autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined
        )
        html = jinja2.Environment(
            autoescape=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined
        )
        subject = " ".join(plain.from_string(self.subject).render(values).split())
        return RenderedEmail(
            subject=subject,
            text=plain.from_string(self.text).render(values),
            html=html.from_string(self.html).render(values),
        )
