"""An :class:`~windvane.alerting.alert.Alert` to and from the outbox's JSON ``payload`` column."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from windvane.alerting.alert import Alert, AlertKind


def to_payload(alert: Alert) -> dict[str, Any]:
    """``alert`` as plain JSON values (datetimes as ISO 8601 UTC, recipients as a list)."""
    data: dict[str, Any] = {
        "dedupe_key": alert.dedupe_key,
        "kind": alert.kind.value,
        "dag_id": alert.dag_id,
        "run_id": alert.run_id,
        "occurred_at": alert.occurred_at.astimezone(UTC).isoformat(),
        "task_id": alert.task_id,
        "try_number": alert.try_number,
        "max_tries": alert.max_tries,
        "state": alert.state,
        "error": alert.error,
        "log_path": alert.log_path,
        "link": alert.link,
        "recipients": list(alert.recipients),
        "hostname": alert.hostname,
    }
    if alert.due_at is not None:  # SLA alerts only: other payloads keep their version-1 shape
        data["due_at"] = alert.due_at.astimezone(UTC).isoformat()
    return data


def with_members(alert: Alert) -> dict[str, Any]:
    """:func:`to_payload` plus ``severity``, ``count`` (how many alerts the message stands for) and
    ``alerts`` (the listed members, each a :func:`to_payload` document): what receivers get."""
    body = to_payload(alert)
    body["severity"] = alert.severity.value
    body["count"] = max(alert.member_count, 1)
    body["alerts"] = [to_payload(member) for member in alert.members]
    return body


def from_payload(data: dict[str, Any]) -> Alert:
    """The :class:`Alert` :func:`to_payload` stored."""
    return Alert(
        dedupe_key=data["dedupe_key"],
        kind=AlertKind(data["kind"]),
        dag_id=data["dag_id"],
        run_id=data["run_id"],
        occurred_at=datetime.fromisoformat(data["occurred_at"]),
        task_id=data.get("task_id"),
        try_number=data.get("try_number"),
        max_tries=data.get("max_tries"),
        state=data.get("state"),
        error=data.get("error"),
        log_path=data.get("log_path"),
        link=data.get("link"),
        recipients=tuple(data.get("recipients") or ()),
        hostname=data.get("hostname"),
        due_at=datetime.fromisoformat(data["due_at"]) if data.get("due_at") else None,
    )
