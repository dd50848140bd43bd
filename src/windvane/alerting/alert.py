"""One alert: what happened, to which task instance or run, and who should hear of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AlertKind(StrEnum):
    """What an alert announces."""

    TASK_FAILED = "task_failed"
    TASK_RETRY = "task_retry"
    RUN_FAILED = "run_failed"
    SLA_MISS = "sla_miss"
    RECOVERED = "recovered"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a channel needs to render and send one message.

    ``dedupe_key`` is the same for every attempt to deliver this alert on one
    channel (kind, DAG, task, run, try); a channel never sees two alerts with one
    key as different messages. ``recipients`` are channel-specific addresses
    (email addresses for email; empty means the channel's configured default).
    ``error`` is a bounded summary, never a secret.
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

    @property
    def subject(self) -> str:
        """A one-line summary (email subject, Slack header, webhook title)."""
        what = f"{self.dag_id}.{self.task_id}" if self.task_id else self.dag_id
        tries = ""
        if self.try_number is not None and self.max_tries is not None:
            tries = f" (try {self.try_number} of {self.max_tries + 1})"
        return f"[windvane] {self.kind.value.replace('_', ' ')}: {what}{tries} in run {self.run_id}"
