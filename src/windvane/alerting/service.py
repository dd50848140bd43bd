"""The ``alert_dispatcher`` entry point (group ``windvane.services``): the dispatcher from settings.

``[alerting]`` says whether it runs and how it paces itself; the channels come
from :func:`configured_channels` (the ``[smtp]``, ``[slack]`` and ``[webhook]``
sections, read by the channels themselves). With ``enabled = false`` the
factory returns a service that does nothing, and the journal consumer is not
registered, so the journal is pruned as if alerting did not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

from windvane.alerting.alert import AlertKind, Severity
from windvane.alerting.backoff import Backoff
from windvane.alerting.channels.base import Channel
from windvane.alerting.channels.email import EmailChannel, SmtpConfig
from windvane.alerting.channels.slack import SlackChannel
from windvane.alerting.channels.webhook import WebhookChannel
from windvane.alerting.dispatcher import AlertDispatcher, DispatchConfig
from windvane.alerting.links import Links
from windvane.alerting.noise import NoiseConfig
from windvane.alerting.routing import Route, Routing
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
    """The channels configured in ``settings``, by name: ``email`` when ``[smtp] host`` is set,
    ``slack`` when ``[slack] webhook_url`` (or ``token`` and ``channel``) is, ``webhook`` when
    ``[webhook] webhook_url`` is. A half-configured channel is a :class:`ConfigError` naming the
    keys (raised by the channel itself)."""
    channels: dict[str, Channel] = {}
    smtp = settings.smtp
    if smtp.host:
        channels["email"] = EmailChannel(
            SmtpConfig(
                host=smtp.host,
                port=smtp.port,
                user=smtp.user or None,
                password=smtp.password or None,
                starttls=smtp.starttls,
                ssl=smtp.ssl,
                timeout=smtp.timeout_seconds,
                mail_from=smtp.mail_from,
            )
        )
    slack = settings.slack
    if slack.webhook_url or slack.token or slack.channel:
        channels["slack"] = SlackChannel(
            webhook_url=slack.webhook_url or None,
            token=slack.token or None,
            channel=slack.channel or None,
            timeout=slack.timeout_seconds,
        )
    hook = settings.webhook
    if hook.webhook_url:
        channels["webhook"] = WebhookChannel(
            hook.webhook_url, secret=hook.secret or None, timeout=hook.timeout_seconds
        )
    return channels


def routing_from(settings: AlertingSettings) -> Routing:
    """The :class:`Routing` ``[alerting]`` describes: its ``routes`` (validated when the settings
    were loaded), then the per-kind channel lists as the default route."""
    return Routing(
        by_kind=(
            (AlertKind.TASK_FAILED, settings.task_failure_channels),
            (AlertKind.TASK_RETRY, settings.task_retry_channels),
            (AlertKind.RUN_FAILED, settings.run_failure_channels),
        ),
        routes=tuple(
            Route(
                channels=r.channels,
                dags=r.dags,
                tags=r.tags,
                kinds=tuple(AlertKind(k) for k in r.kinds),
                severities=tuple(Severity(v) for v in r.severities),
                continue_=r.continue_,
            )
            for r in settings.routes
        ),
    )


def unconfigured(routing: Routing, channels: Collection[str]) -> list[str]:
    """Channel names ``routing`` sends to that are not among ``channels`` (their alerts are dropped)."""
    named = [c for _, names in routing.by_kind for c in names]
    named += [c for route in routing.routes for c in route.channels]
    return sorted(set(named) - set(channels))


def noise_from(settings: AlertingSettings) -> NoiseConfig:
    """Grouping, replacement and repeat settings from ``[alerting]``."""
    return NoiseConfig(
        group_wait=settings.group_wait_seconds,
        replace_task_alerts=settings.run_alert_replaces_task_alerts,
        repeat_interval=settings.repeat_interval_seconds,
    )


def links_from(settings: Settings) -> Links:
    """Where alerts point: the task log folder (``[logging] base_log_folder``) and ``[alerting] base_url``."""
    return Links(log_folder=str(settings.logging.base_log_folder), base_url=settings.alerting.base_url)


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
    routing = routing_from(alerting)
    missing = unconfigured(routing, found)
    if missing and found:
        log.warning(
            "[alerting] routes name channels that are not configured (ignored): %s", ", ".join(missing)
        )
    return AlertDispatcher(
        context.engine,
        found,
        routing=routing,
        config=dispatch_config(alerting),
        metrics=context.metrics,
        noise=noise_from(alerting),
        links=links_from(context.settings),
    )
