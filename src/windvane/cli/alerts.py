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
from windvane.cli.base import (
    EXIT_FAILURE,
    EXIT_OK,
    Cli,
    UsageError,
)
from windvane.cli.wiring import open_engine
from windvane.core.store.engine import begin_read, begin_write


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
