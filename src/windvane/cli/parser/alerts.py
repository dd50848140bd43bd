"""``windvane alerts ...`` and ``windvane alerter``: their arguments (handlers in
:mod:`windvane.cli.alerts`, :mod:`~windvane.cli.alerts_sla` and :mod:`~windvane.cli.alerter`)."""

from __future__ import annotations

from windvane.cli.args import duration, positive_int
from windvane.cli.base import Subparsers, add_command, add_group, add_output_option

#: The states of an outbox row (``windvane.alerting.tables.STATES``; a test keeps them equal).
ALERT_STATES = ("pending", "sent", "dead", "silenced", "suppressed", "superseded")

_ALERTER = """\
Run the alert dispatcher (relay the journal into the alert outbox, deliver it
through the configured channels), the DAG callbacks runner and the SLA
monitor, without a scheduler. Several alerters and schedulers may share a
database: each alert is sent once per channel and each callback called once. Ctrl-C or SIGTERM
stop it cleanly."""


def register(commands: Subparsers) -> None:
    group = add_group(commands, "alerts", "See the alert outbox, send a test alert, silence alerts.")
    alerts = "windvane.cli.alerts:"

    listing = add_command(
        group, "list", alerts + "_list", "List the outbox's alerts, newest first, with attempts."
    )
    listing.add_argument("--state", choices=ALERT_STATES, help="Only alerts in this state.")
    listing.add_argument("--dag", help="Only alerts of this DAG.")
    listing.add_argument("--limit", type=positive_int, default=50, help="At most this many (default 50).")
    add_output_option(listing)

    test = add_command(
        group, "test", alerts + "_test", "Send a test alert through one configured channel now."
    )
    test.add_argument("--channel", required=True, help="The channel: email, slack or webhook.")
    test.add_argument("--to", action="append", default=[], help="Email recipient (repeatable; email only).")

    silence = add_command(
        group, "silence", alerts + "_silence", "Drop alerts of a DAG (or one task) for a while."
    )
    silence.add_argument("--dag", required=True, help="The DAG whose alerts are dropped.")
    silence.add_argument("--task", help="Only this task's alerts.")
    silence.add_argument("--for", dest="for_", type=duration, required=True, help="How long: 30m, 2h, 1d.")
    silence.add_argument("--reason", required=True, help="Why (recorded with the silence).")

    silences = add_command(
        group,
        "silences",
        alerts + "_silences",
        "List active silences and those that ended recently, newest first.",
    )
    silences.add_argument(
        "--expired-within",
        type=duration,
        default=24 * 3600.0,
        help="Also show silences that ended this recently (default 1d).",
    )
    add_output_option(silences)

    unsilence = add_command(
        group, "unsilence", alerts + "_unsilence", "Expire a silence now (its alerts are sent again)."
    )
    unsilence.add_argument("id", type=positive_int, help="The silence's id (see `windvane alerts silences`).")

    misses = add_command(
        group,
        "sla-misses",
        "windvane.cli.alerts_sla:_list",
        "List recorded SLA and run deadline misses, newest first.",
    )
    misses.add_argument("--dag", help="Only this DAG's misses.")
    misses.add_argument("--limit", type=positive_int, default=50, help="At most this many (default 50).")
    add_output_option(misses)


def register_alerter(commands: Subparsers) -> None:
    parser = add_command(
        commands,
        "alerter",
        "windvane.cli.alerter:_alerter",
        "Run the alerting services without a scheduler.",
        _ALERTER,
    )
    parser.add_argument(
        "--metrics-port",
        type=positive_int,
        metavar="PORT",
        help="Serve Prometheus /metrics on this port (when [metrics] prometheus_on; default: none).",
    )
