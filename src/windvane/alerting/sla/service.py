"""The ``sla_monitor`` entry point (group ``windvane.services``): the monitor from settings.

With ``[alerting] sla_checks = false`` the factory returns a service that does
nothing. Misses are recorded and ``sla_miss_callback`` runs whether or not
alerting is enabled; alerts go to the outbox only when ``[alerting] enabled`` is
true, to the configured channels among ``sla_miss_channels``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from windvane.alerting.service import configured_channels, routing_from
from windvane.alerting.sla.monitor import SlaConfig, SlaMonitor
from windvane.core.interfaces import Service
from windvane.settings import AlertingSettings

if TYPE_CHECKING:
    from windvane.cli.services import ServiceContext

log = logging.getLogger("windvane.alerting.sla")


class SlaChecksOff:
    """What the factory returns while ``[alerting] sla_checks`` is false."""

    name = "sla-monitor"

    def start(self) -> None:
        log.info("SLA checks are off ([alerting] sla_checks = false): no SLA miss is recorded")

    def stop(self) -> None:
        pass


def sla_config(settings: AlertingSettings) -> SlaConfig:
    """The monitor's settings from ``[alerting]``."""
    return SlaConfig(
        poll_interval=settings.sla_poll_interval_seconds,
        lookback=settings.sla_lookback_seconds,
        retention=settings.retention_seconds,
        check_backfill=settings.sla_check_backfill,
        recovered_notice=settings.sla_recovered_notice,
        callback_timeout=settings.sla_callback_timeout_seconds,
        channels=settings.sla_miss_channels,
    )


def create(context: ServiceContext) -> Service:
    """The SLA monitor ``context`` describes."""
    alerting = context.settings.alerting
    if not alerting.sla_checks:
        return SlaChecksOff()
    available = configured_channels(context.settings) if alerting.enabled else {}
    return SlaMonitor(
        context.engine,
        config=sla_config(alerting),
        available=set(available),
        routing=routing_from(alerting),
        metrics=context.metrics,
    )
