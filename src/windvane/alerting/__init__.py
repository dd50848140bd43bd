"""Alerting: turn durable facts (journal rows, SLA misses) into messages people receive, once.

Holds the :class:`~windvane.alerting.alert.Alert` value, the channels that deliver it
(email, Slack, webhook: :mod:`windvane.alerting.channels`), and the machinery that
makes delivery durable (outbox, relay, dispatcher).

May import: :mod:`windvane.core.interfaces` (and the store/model floors it names),
``windvane.errors`` and ``windvane.metrics``; :mod:`.service` (the entry point's factory)
also reads ``windvane.settings``. Core never imports this package: it
plugs in through the journal, the ``windvane.services`` and ``windvane.migrations``
entry points.
"""

from windvane.alerting.alert import Alert, AlertKind
from windvane.alerting.notifiers import BaseNotifier, EmailNotifier, SlackNotifier, WebhookNotifier

__all__ = ["Alert", "AlertKind", "BaseNotifier", "EmailNotifier", "SlackNotifier", "WebhookNotifier"]
