"""``windvane alerter``: the alerting services in a process of their own.

The same services ``windvane scheduler`` and ``standalone`` run beside their
loop (the alert dispatcher, the DAG callbacks runner, the SLA monitor), without
a scheduler: for deployments that keep user callbacks and slow channels away
from the scheduler's machine, or that want more dispatchers. Several alerters
and schedulers on one database are safe: dispatchers claim disjoint outbox rows,
callbacks runners take turns (docs/alerting.md).
"""

from __future__ import annotations

import argparse
import threading

from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.logs import configure_logging
from windvane.cli.signals import stop_on_signals
from windvane.cli.wiring import create_metrics, create_services, database_url, open_engine

#: The entry points (group ``windvane.services``) the alerter runs.
ALERTER_SERVICES = ("alert_dispatcher", "dag_callbacks", "sla_monitor")


def _alerter(cli: Cli, args: argparse.Namespace) -> int:
    configure_logging(cli.settings, verbose=cli.verbose)
    settings = cli.settings
    stop = threading.Event()
    with open_engine(settings) as engine:
        metrics = create_metrics(settings, engine, service="alerter")
        try:
            if args.metrics_port is not None:
                metrics.start_http_server(args.metrics_port)
            cli.out.line(
                f"Windvane alerter\n  database: {database_url(settings)}\n"
                f"  alerting: {'on' if settings.alerting.enabled else 'off ([alerting] enabled = false)'}\n"
                "Press Ctrl-C to stop."
            )
            with (
                stop_on_signals(stop.set),
                create_services(settings, engine, metrics=metrics.sink, only=ALERTER_SERVICES),
            ):
                while not stop.wait(1.0):
                    pass
        finally:
            metrics.close()
    return EXIT_OK
