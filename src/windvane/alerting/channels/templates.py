"""Email templates: the Jinja sources for subject, plain-text and HTML bodies, and their rendering.

The defaults are module constants; pass your own :class:`AlertTemplates` (any field
may be replaced) to :class:`~windvane.alerting.channels.email.EmailChannel`. Every
template sees ``alert`` (the :class:`~windvane.alerting.alert.Alert`), ``what``
(``dag.task`` or ``dag``), ``tries`` (``"2/3"`` or ``None``), ``error`` (the error
summary cut to :data:`MAX_ERROR_CHARS`), ``kind`` (``"task failed"``...) and, for SLA
misses and recoveries, ``late`` (``"1h 2m 3s"``; else ``None``) beside ``alert.due_at``.
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
{% if alert.task_id %}Task:   {{ alert.task_id }}
{% endif %}Run:    {{ alert.run_id }}
{% if tries %}Try:    {{ tries }}
{% endif %}{% if alert.state %}State:  {{ alert.state }}
{% endif %}When:   {{ alert.occurred_at.isoformat() }}
{% if alert.due_at %}Due at: {{ alert.due_at.isoformat() }}
Late by: {{ late }}
{% endif %}{% if alert.log_path %}Log:    {{ alert.log_path }}
{% endif %}{% if alert.link %}Link:   {{ alert.link }}
{% endif %}{% if error %}
Error:
{{ error }}
{% endif %}"""

DEFAULT_HTML = """\
<html><body style="font-family: sans-serif">
<h2>Windvane: {{ kind }}</h2>
<table>
<tr><th align="left">DAG</th><td>{{ alert.dag_id }}</td></tr>
{% if alert.task_id %}<tr><th align="left">Task</th><td>{{ alert.task_id }}</td></tr>{% endif %}
<tr><th align="left">Run</th><td>{{ alert.run_id }}</td></tr>
{% if tries %}<tr><th align="left">Try</th><td>{{ tries }}</td></tr>{% endif %}
{% if alert.state %}<tr><th align="left">State</th><td>{{ alert.state }}</td></tr>{% endif %}
<tr><th align="left">When</th><td>{{ alert.occurred_at.isoformat() }}</td></tr>
{% if alert.due_at %}<tr><th align="left">Due at</th><td>{{ alert.due_at.isoformat() }}</td></tr>
<tr><th align="left">Late by</th><td>{{ late }}</td></tr>{% endif %}
{% if alert.log_path %}<tr><th align="left">Log</th><td><code>{{ alert.log_path }}</code></td></tr>{% endif %}
</table>
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
