"""``windvane alerts list | test | silence | silences | unsilence``: the outbox, a test message, silences."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from windvane.alerting import outbox
from windvane.alerting.alert import Alert, AlertKind
from windvane.alerting.channels.base import DeliveryError
from windvane.alerting.service import configured_channels
from windvane.alerting.silences import add_silence, end_silence, list_silences, who
from windvane.alerting.tables import STATES
from windvane.cli import alerts_sla
from windvane.cli.args import duration, positive_int
from windvane.cli.base import (
    EXIT_FAILURE,
    EXIT_OK,
    Cli,
    Subparsers,
    UsageError,
    add_command,
    add_group,
    add_output_option,
)
from windvane.cli.wiring import open_engine
from windvane.core.store.engine import begin_read, begin_write


def register(commands: Subparsers) -> None:
    group = add_group(commands, "alerts", "See the alert outbox, send a test alert, silence alerts.")

    listing = add_command(group, "list", _list, "List the outbox's alerts, newest first, with attempts.")
    listing.add_argument("--state", choices=STATES, help="Only alerts in this state.")
    listing.add_argument("--dag", help="Only alerts of this DAG.")
    listing.add_argument("--limit", type=positive_int, default=50, help="At most this many (default 50).")
    add_output_option(listing)

    test = add_command(group, "test", _test, "Send a test alert through one configured channel now.")
    test.add_argument("--channel", required=True, help="The channel: email, slack or webhook.")
    test.add_argument("--to", action="append", default=[], help="Email recipient (repeatable; email only).")

    silence = add_command(group, "silence", _silence, "Drop alerts of a DAG (or one task) for a while.")
    silence.add_argument("--dag", required=True, help="The DAG whose alerts are dropped.")
    silence.add_argument("--task", help="Only this task's alerts.")
    silence.add_argument("--for", dest="for_", type=duration, required=True, help="How long: 30m, 2h, 1d.")
    silence.add_argument("--reason", required=True, help="Why (recorded with the silence).")

    silences = add_command(
        group, "silences", _silences, "List active silences and those that ended recently, newest first."
    )
    silences.add_argument(
        "--expired-within",
        type=duration,
        default=24 * 3600.0,
        help="Also show silences that ended this recently (default 1d).",
    )
    add_output_option(silences)

    unsilence = add_command(
        group, "unsilence", _unsilence, "Expire a silence now (its alerts are sent again)."
    )
    unsilence.add_argument("id", type=positive_int, help="The silence's id (see `windvane alerts silences`).")

    alerts_sla.register(group)


def _list(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        found = outbox.list_rows(conn, state=args.state, dag_id=args.dag, limit=args.limit)
    rows = [
        {
            "id": r.id,
            "state": r.state,
            "channel": r.channel,
            "kind": r.alert.kind.value,
            "dag_id": r.alert.dag_id,
            "task_id": r.alert.task_id or "",
            "run_id": r.alert.run_id,
            "attempts": r.attempts,
            "created_at": r.created_at.isoformat(timespec="seconds"),
            "with": "" if r.merged_into is None else f"#{r.merged_into}",
            "note": r.note or "",
            "last_error": r.last_error or "",
        }
        for r in found
    ]
    columns = ["id", "state", "channel", "kind", "dag_id", "task_id", "run_id", "attempts", "created_at"]
    cli.out.rows(rows, [*columns, "with", "note", "last_error"], fmt=args.output, empty="No alerts.")
    return EXIT_OK


def _test(cli: Cli, args: argparse.Namespace) -> int:
    channels = configured_channels(cli.settings)
    channel = channels.get(args.channel)
    if channel is None:
        configured = ", ".join(sorted(channels)) or "none"
        raise UsageError(f"--channel {args.channel!r} is not configured (configured: {configured})")
    now = datetime.now(UTC)
    alert = Alert(
        dedupe_key=f"test|{now.isoformat()}|{args.channel}",
        kind=AlertKind.TEST,
        dag_id="windvane_alerts_test",
        run_id=f"manual__{now.isoformat(timespec='seconds')}",
        occurred_at=now,
        task_id="test",
        state="test",
        error="A test alert sent by `windvane alerts test`: if you read this, the channel works.",
        recipients=tuple(args.to),
    )
    try:
        asyncio.run(channel.send(alert))
    except DeliveryError as exc:
        kind = "permanent" if exc.permanent else "retryable"
        cli.out.line(f"Channel {args.channel} failed ({kind}): {exc}")
        return EXIT_FAILURE
    cli.out.line(f"Test alert sent through {args.channel}.")
    return EXIT_OK


def _silence(cli: Cli, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    until = now + timedelta(seconds=args.for_)
    with open_engine(cli.settings) as engine, begin_write(engine) as conn:
        silence_id = add_silence(
            conn,
            args.dag,
            task_id=args.task,
            until=until,
            reason=args.reason,
            created_by=who(),
            now=now,
        )
    what = f"task {args.task!r} of DAG {args.dag!r}" if args.task else f"DAG {args.dag!r}"
    stamp = until.isoformat(timespec="seconds")
    cli.out.line(
        f"Silence {silence_id}: alerts of {what} are silenced until {stamp} "
        f"(recorded as silenced, not sent; end it early with `windvane alerts unsilence {silence_id}`)."
    )
    return EXIT_OK


def _silences(cli: Cli, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        found = list_silences(conn, now=now, expired_within=timedelta(seconds=args.expired_within))
    rows = [
        {
            "id": s.id,
            "state": "active" if s.active(now) else "expired",
            "dag_id": s.dag_id,
            "task_id": s.task_id or "",
            "reason": s.reason,
            "created_at": s.created_at.isoformat(timespec="seconds") if s.created_at else "",
            "expires_at": s.until.isoformat(timespec="seconds"),
            "created_by": s.created_by,
            "ended_by": s.ended_by or "",
        }
        for s in found
    ]
    columns = ["id", "state", "dag_id", "task_id", "reason", "created_at", "expires_at", "created_by"]
    cli.out.rows(rows, [*columns, "ended_by"], fmt=args.output, empty="No silences.")
    return EXIT_OK


def _unsilence(cli: Cli, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    with open_engine(cli.settings) as engine, begin_write(engine) as conn:
        silence = end_silence(conn, args.id, now=now, ended_by=who())
    if silence.until < now:  # it had ended before
        cli.out.line(f"Silence {args.id} had already ended at {silence.until.isoformat(timespec='seconds')}.")
    else:
        cli.out.line(f"Silence {args.id} ended: alerts of DAG {silence.dag_id!r} are sent again.")
    return EXIT_OK
