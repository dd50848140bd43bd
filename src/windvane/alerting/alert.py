"""One alert: what happened, to which task instance or run, how bad it is, and who should hear of it.

An alert may also stand for several (one message for a group of alerts of one
run, or a run-failure alert that replaced its tasks' alerts): ``members`` lists
the first few of them and ``member_count`` says how many there were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Severity(StrEnum):
    """How urgent an alert is (for routing and for receivers such as PagerDuty bridges)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertKind(StrEnum):
    """What an alert announces."""

    TASK_FAILED = "task_failed"
    TASK_RETRY = "task_retry"
    RUN_FAILED = "run_failed"
    SLA_MISS = "sla_miss"
    RECOVERED = "recovered"
    TEST = "test"

    @property
    def severity(self) -> Severity:
        """Airflow-ish: a retry is a warning (it may still succeed), a failure or a missed SLA is
        critical, a recovery or a test is information."""
        return _SEVERITIES[self]


_SEVERITIES = {
    AlertKind.TASK_FAILED: Severity.CRITICAL,
    AlertKind.TASK_RETRY: Severity.WARNING,
    AlertKind.RUN_FAILED: Severity.CRITICAL,
    AlertKind.SLA_MISS: Severity.CRITICAL,
    AlertKind.RECOVERED: Severity.INFO,
    AlertKind.TEST: Severity.INFO,
}


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a channel needs to render and send one message.

    ``dedupe_key`` is the same for every attempt to deliver this alert on one
    channel (kind, DAG, task, run, try); a channel never sees two alerts with one
    key as different messages. ``recipients`` are channel-specific addresses
    (email addresses for email; empty means the channel's configured default).
    ``error`` is a bounded summary, never a secret. ``log_path`` is the try's log
    file on ``hostname``; ``link`` opens the run or task in a UI (``[alerting] base_url``).

    ``members`` (set by the dispatcher, never stored) are the first alerts this
    message stands for, oldest first, out of ``member_count``: the alerts of a group
    (this one among them), or, for a ``run_failed`` alert, the task alerts it replaced.
    """

    dedupe_key: str
    kind: AlertKind
    dag_id: str
    run_id: str
    occurred_at: datetime
    task_id: str | None = None
    try_number: int | None = None
    max_tries: int | None = None
    state: str | None = None
    error: str | None = None
    log_path: str | None = None
    link: str | None = None
    recipients: tuple[str, ...] = field(default=())
    hostname: str | None = None
    members: tuple[Alert, ...] = field(default=())
    member_count: int = 0
    #: SLA misses and recoveries: when the task (or run) was due to have succeeded.
    due_at: datetime | None = None

    @property
    def late_by(self) -> timedelta | None:
        """How late, for SLA alerts: ``occurred_at - due_at`` (detection, or the late finish)."""
        if self.due_at is None:
            return None
        return max(self.occurred_at - self.due_at, timedelta(0))

    @property
    def severity(self) -> Severity:
        """The kind's severity."""
        return self.kind.severity

    @property
    def is_group(self) -> bool:
        """Whether this message stands for several alerts of the same kind (a group)."""
        return self.member_count > 1 and self.kind is not AlertKind.RUN_FAILED

    @property
    def subject(self) -> str:
        """A one-line summary (email subject, Slack header, webhook title)."""
        if self.is_group:
            kind = self.kind.value.replace("_", " ")
            return f"[windvane] {kind} x{self.member_count}: {self.dag_id} in run {self.run_id}"
        what = f"{self.dag_id}.{self.task_id}" if self.task_id else self.dag_id
        late = self.late_by
        if late is not None and self.kind in (AlertKind.SLA_MISS, AlertKind.RECOVERED):
            missed = "SLA missed" if self.task_id else "run deadline missed"
            head = missed if self.kind is AlertKind.SLA_MISS else "recovered, late by " + human(late)
            return f"[windvane] {head}: {what} in run {self.run_id}"
        tries = ""
        if self.try_number is not None and self.max_tries is not None:
            tries = f" (try {self.try_number} of {self.max_tries + 1})"
        return f"[windvane] {self.kind.value.replace('_', ' ')}: {what}{tries} in run {self.run_id}"


def human(delta: timedelta) -> str:
    """``delta`` as ``1h 2m 3s`` (whole seconds; ``0s`` when under one)."""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    if minutes:
        parts.append(f"{minutes}m")
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts)
