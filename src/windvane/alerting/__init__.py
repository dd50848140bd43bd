"""Alerting: turn durable facts (journal rows, SLA misses) into messages people receive, once.

Holds the :class:`~windvane.alerting.alert.Alert` value, the channels that deliver it
(email, Slack, webhook: :mod:`windvane.alerting.channels`), and the machinery that
makes delivery durable (outbox, relay, dispatcher).

May import: :mod:`windvane.core.interfaces` (and the store/model floors it names),
``windvane.errors`` and ``windvane.metrics``; :mod:`.service` (the entry point's factory)
also reads ``windvane.settings``. Core never imports this package: it
plugs in through the journal, the ``windvane.services`` and ``windvane.migrations``
entry points.

The names below are imported on first use (PEP 562): the ``windvane.migrations``
entry point imports this package, and a CLI command that only checks the schema
must not pay for the channels' HTTP and Slack clients.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from windvane.alerting.alert import Alert, AlertKind
    from windvane.alerting.notifiers import BaseNotifier, EmailNotifier, SlackNotifier, WebhookNotifier

_LAZY = {
    "Alert": "windvane.alerting.alert",
    "AlertKind": "windvane.alerting.alert",
    "BaseNotifier": "windvane.alerting.notifiers",
    "EmailNotifier": "windvane.alerting.notifiers",
    "SlackNotifier": "windvane.alerting.notifiers",
    "WebhookNotifier": "windvane.alerting.notifiers",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'windvane.alerting' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["Alert", "AlertKind", "BaseNotifier", "EmailNotifier", "SlackNotifier", "WebhookNotifier"]
