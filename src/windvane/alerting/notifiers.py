"""Notifiers: channel-backed callables to put straight into task and DAG callbacks.

``on_failure_callback=SlackNotifier(webhook_url=...)`` (or ``EmailNotifier``,
``WebhookNotifier``) builds an :class:`~windvane.alerting.alert.Alert` from
the callback's context and sends it through the channel synchronously, in the
calling process, once. A notifier is also an ``sla_miss_callback``: called with
that hook's five arguments (``dag, task_list, blocking_task_list, slas,
blocking_tis``, as Airflow's ``BaseNotifier`` accepts them) it sends one
``sla_miss`` alert for the batch. Like Airflow's ``BaseNotifier``, a delivery failure is
logged and never raised into the task or run (an observer never breaks what it
observes); these calls are not retried and not deduplicated: for that, configure
the channel for the alerting service instead.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from windvane.alerting.alert import Alert, AlertKind
from windvane.alerting.channels.base import Channel
from windvane.alerting.channels.email import EmailChannel, SmtpConfig
from windvane.alerting.channels.slack import SlackChannel
from windvane.alerting.channels.templates import AlertTemplates, bounded_error
from windvane.alerting.channels.webhook import WebhookChannel

log = logging.getLogger(__name__)

#: ``sla_miss_callback``'s positional arguments: the keys of the context a notifier makes of them.
SLA_CALLBACK_ARGS = ("dag", "task_list", "blocking_task_list", "slas", "blocking_tis")


def _recipients(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(a.strip() for a in value.replace(";", ",").split(",") if a.strip())
    return tuple(value)


def _error_of(context: Mapping[str, Any]) -> str | None:
    exc = context.get("exception")
    if isinstance(exc, BaseException):
        return bounded_error("".join(traceback.format_exception(exc)).rstrip())
    if exc is not None:
        return bounded_error(str(exc))
    reason = context.get("reason")
    return None if reason is None else bounded_error(str(reason))


def _kind_of(context: Mapping[str, Any], ti: Any) -> AlertKind:
    if ti is None:
        return AlertKind.RUN_FAILED
    state = str(getattr(ti, "state", "") or "")
    if state == "up_for_retry":
        return AlertKind.TASK_RETRY
    try_number, max_tries = getattr(ti, "try_number", None), getattr(ti, "max_tries", None)
    if isinstance(try_number, int) and isinstance(max_tries, int) and try_number <= max_tries:
        return AlertKind.TASK_RETRY  # tries are left, so this failure leads to a retry
    return AlertKind.TASK_FAILED


def alert_from_context(
    context: Mapping[str, Any],
    *,
    kind: AlertKind | None = None,
    recipients: Sequence[str] = (),
    link: str | None = None,
) -> Alert:
    """The alert a callback context announces (task context with ``ti``, or a DAG run's with ``reason``).

    ``kind`` defaults to: no ``ti`` -> run failed; tries left -> retry; else task
    failed. ``link`` may hold ``{dag_id}``, ``{run_id}``, ``{task_id}`` placeholders.
    A context with ``slas`` (see :data:`SLA_CALLBACK_ARGS`) gives an ``sla_miss`` alert.
    """
    if "slas" in context:
        return _sla_alert(context, recipients=recipients, link=link)
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = str(getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or "?")
    run_id = str(context.get("run_id") or getattr(ti, "run_id", None) or "?")
    task_id = getattr(ti, "task_id", None) if ti is not None else None
    try_number = getattr(ti, "try_number", None) if ti is not None else None
    the_kind = kind or _kind_of(context, ti)
    state = getattr(ti, "state", None) if ti is not None else context.get("state")
    values = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id or ""}
    return Alert(
        dedupe_key=f"notifier:{the_kind.value}:{dag_id}:{task_id or ''}:{run_id}:{try_number or ''}",
        kind=the_kind,
        dag_id=dag_id,
        run_id=run_id,
        occurred_at=datetime.now(UTC),
        task_id=task_id,
        try_number=try_number,
        max_tries=getattr(ti, "max_tries", None) if ti is not None else None,
        state=None if state is None else str(state),
        error=_error_of(context),
        log_path=context.get("log_path") or getattr(ti, "log_path", None),
        link=link.format_map({k: quote(v, safe="") for k, v in values.items()}) if link else None,
        recipients=tuple(recipients),
    )


def _sla_alert(context: Mapping[str, Any], *, recipients: Sequence[str], link: str | None) -> Alert:
    """One alert for a batch of SLA misses of one DAG: its task when there is one, its run
    when there is one (else the first), the earliest due time, a line per miss as the error."""
    slas = list(context.get("slas") or ())
    dag = context.get("dag")
    dag_id = str(getattr(dag, "dag_id", None) or (getattr(slas[0], "dag_id", None) if slas else None) or "?")
    runs = sorted({str(getattr(m, "run_id", "?")) for m in slas})
    tasks = sorted({str(getattr(m, "task_id", "?")) for m in slas})
    run_id = runs[0] if runs else "?"
    task_id = tasks[0] if len(tasks) == 1 else None
    dues = [d for d in (getattr(m, "due_at", None) for m in slas) if isinstance(d, datetime)]
    lines = [
        str(getattr(m, "description", None) or f"{getattr(m, 'task_id', '?')} missed its SLA") for m in slas
    ]
    values = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id or ""}
    return Alert(
        dedupe_key=f"notifier:sla_miss:{dag_id}:{','.join(tasks)}:{','.join(runs)}",
        kind=AlertKind.SLA_MISS,
        dag_id=dag_id,
        run_id=run_id if len(runs) <= 1 else f"{run_id} (+{len(runs) - 1} more)",
        occurred_at=datetime.now(UTC),
        task_id=task_id,
        error=bounded_error("\n".join(lines)) if lines else None,
        link=link.format_map({k: quote(v, safe="") for k, v in values.items()}) if link else None,
        recipients=tuple(recipients),
        due_at=min(dues) if dues else None,
    )


def _sla_recipients(context: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``email`` lists of the tasks that missed (in the order they missed), without repeats."""
    dag = context.get("dag")
    found: dict[str, None] = {}
    for miss in context.get("slas") or ():
        try:
            task = dag.get_task(miss.task_id) if dag is not None else None
        except Exception:  # a task gone from the DAG: no address of its own
            continue
        for address in _recipients(getattr(task, "email", None)):
            found.setdefault(address)
    return tuple(found)


def _run(coro: Any) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:  # called from async code: a private loop elsewhere
        pool.submit(asyncio.run, coro).result()


class BaseNotifier:
    """Sends one alert per call through ``channel``; see the module docstring."""

    def __init__(self, channel: Channel, *, kind: AlertKind | None = None, link: str | None = None) -> None:
        self.channel = channel
        self.kind = kind
        self.link = link

    def recipients_for(self, context: Mapping[str, Any]) -> tuple[str, ...]:
        """Addresses for the alert (none but email's)."""
        return ()

    def __call__(self, *args: Any) -> None:
        """As a task or DAG callback: ``(context)``; as ``sla_miss_callback``: its five arguments."""
        if len(args) == 1:
            self.notify(args[0])
        elif len(args) == len(SLA_CALLBACK_ARGS):
            self.notify(dict(zip(SLA_CALLBACK_ARGS, args, strict=True)))
        else:
            raise TypeError(
                f"{type(self).__name__} takes one callback context, or sla_miss_callback's "
                f"{len(SLA_CALLBACK_ARGS)} arguments ({', '.join(SLA_CALLBACK_ARGS)}); got {len(args)}"
            )

    def notify(self, context: Mapping[str, Any]) -> None:
        """Build the alert from ``context`` and send it; log (never raise) a failure."""
        try:
            alert = alert_from_context(
                context, kind=self.kind, recipients=self.recipients_for(context), link=self.link
            )
            _run(self.channel.send(alert))
        except Exception as exc:
            log.error("notifier %s could not deliver its alert: %s", self.channel.name, exc, exc_info=True)


class EmailNotifier(BaseNotifier):
    """Email the alert to ``to`` (default: the task's ``email`` list) through ``smtp``."""

    def __init__(
        self,
        smtp: SmtpConfig,
        *,
        to: str | Sequence[str] | None = None,
        templates: AlertTemplates | None = None,
        kind: AlertKind | None = None,
        link: str | None = None,
    ) -> None:
        super().__init__(EmailChannel(smtp, templates=templates), kind=kind, link=link)
        self.to = _recipients(to)

    def recipients_for(self, context: Mapping[str, Any]) -> tuple[str, ...]:
        """``to`` when given, else the task's ``email`` (for SLA misses: the missed tasks')."""
        if self.to:
            return self.to
        if "slas" in context:
            return _sla_recipients(context)
        return _recipients(getattr(context.get("task"), "email", None))


class SlackNotifier(BaseNotifier):
    """Post the alert to Slack (webhook URL, or bot token + channel): see :class:`SlackChannel`."""

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        token: str | None = None,
        channel: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
        kind: AlertKind | None = None,
        link: str | None = None,
    ) -> None:
        slack = SlackChannel(
            webhook_url=webhook_url, token=token, channel=channel, base_url=base_url, timeout=timeout
        )
        super().__init__(slack, kind=kind, link=link)


class WebhookNotifier(BaseNotifier):
    """POST the alert as signed JSON to ``url``: see :class:`WebhookChannel`."""

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        kind: AlertKind | None = None,
        link: str | None = None,
    ) -> None:
        channel = WebhookChannel(url, secret=secret, timeout=timeout, headers=headers)
        super().__init__(channel, kind=kind, link=link)
