"""The ``alert_dispatcher`` entry point (group ``windvane.services``): the dispatcher from settings.

``[alerting]`` says whether it runs and how it paces itself; the channels come
from :func:`configured_channels` (the ``[smtp]``, ``[slack]`` and ``[webhook]``
sections, read by the channels themselves). With ``enabled = false`` the
factory returns a service that does nothing, and the journal consumer is not
registered, so the journal is pruned as if alerting did not exist.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from windvane.alerting.alert import AlertKind
from windvane.alerting.backoff import Backoff
from windvane.alerting.channels.base import Channel
from windvane.alerting.dispatcher import AlertDispatcher, DispatchConfig
from windvane.alerting.routing import Routing
from windvane.core.interfaces import Service
from windvane.settings import AlertingSettings, Settings

if TYPE_CHECKING:
    from windvane.cli.services import ServiceContext

log = logging.getLogger("windvane.alerting")


class AlertingOff:
    """What the factory returns while ``[alerting] enabled`` is false: starts and stops nothing."""

    name = "alert-dispatch"

    def start(self) -> None:
        log.info("alerting is off ([alerting] enabled = false): no alerts are sent")

    def stop(self) -> None:
        pass


def configured_channels(settings: Settings) -> dict[str, Channel]:
    """The channels configured in ``settings``, by name.

    The seam where the channel implementations (email, Slack, webhook) are
    built from their own sections; none are built here yet.
    """
    return {}


def routing_from(settings: AlertingSettings) -> Routing:
    """The :class:`Routing` the ``[alerting]`` channel lists describe (no per-DAG/tag additions)."""
    return Routing(
        by_kind=(
            (AlertKind.TASK_FAILED, settings.task_failure_channels),
            (AlertKind.TASK_RETRY, settings.task_retry_channels),
            (AlertKind.RUN_FAILED, settings.run_failure_channels),
        )
    )


def dispatch_config(settings: AlertingSettings) -> DispatchConfig:
    """The dispatcher's pacing from ``[alerting]``."""
    return DispatchConfig(
        poll_interval=settings.poll_interval_seconds,
        max_age=settings.max_age_seconds,
        backoff=Backoff(base=settings.backoff_base_seconds, cap=settings.backoff_max_seconds),
        send_timeout=settings.send_timeout_seconds,
        claim_seconds=max(settings.claim_seconds, settings.send_timeout_seconds * 2),
        concurrency=settings.concurrency,
        retention=settings.retention_seconds,
    )


def create(context: ServiceContext, channels: dict[str, Channel] | None = None) -> Service:
    """The alert dispatcher ``context`` describes (``channels`` replaces :func:`configured_channels`)."""
    alerting = context.settings.alerting
    if not alerting.enabled:
        return AlertingOff()
    found = configured_channels(context.settings) if channels is None else channels
    if not found:
        log.warning("[alerting] is enabled but no channel is configured: alerts are relayed, none is sent")
    return AlertDispatcher(
        context.engine,
        found,
        routing=routing_from(alerting),
        config=dispatch_config(alerting),
        metrics=context.metrics,
    )
