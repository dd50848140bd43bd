"""Noise control decisions: grouping, replacement by the run's alert, repeat suppression. Pure.

* **Grouping** (like Alertmanager's ``group_wait``): the task alerts of one kind
  of one DAG run on one channel (for email: to the same recipients) share a
  :func:`group_key`. The relay holds each such alert ``group_wait`` seconds; when
  the dispatcher claims a due one it also claims its pending siblings and sends
  one message for all of them (:mod:`windvane.alerting.outbox`).
* **Replacement** (an Alertmanager inhibition): with ``replace_task_alerts``, a
  run-failure alert on a channel supersedes the task alerts of that run on that
  channel that are still pending, and those derived after it. The ``email``
  channel is exempt: its task alerts go to each task's own ``email`` list
  (Airflow's ``email_on_failure``), which a run alert has no address for.
* **Repeat** (Alertmanager's ``repeat_interval``, per DAG): once a DAG's run-failure
  alert was raised, its next ones within ``repeat_interval`` seconds are recorded
  as ``suppressed``, until a run of the DAG succeeds. 0 turns it off.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from windvane.alerting.alert import Alert, AlertKind
from windvane.alerting.routing import EMAIL, TASK_KINDS

#: Kinds whose alerts are grouped per run (a run's own alert is one per run already).
GROUPED_KINDS = frozenset({AlertKind.TASK_FAILED, AlertKind.TASK_RETRY, AlertKind.SLA_MISS})
#: How many alerts a grouped message lists (it always says how many there were).
LISTED = 20
#: ``alert_outbox.group_key`` is at most this long; longer keys end in a digest instead.
KEY_CHARS = 1000


@dataclass(frozen=True, slots=True)
class NoiseConfig:
    """The ``[alerting]`` noise settings, in seconds (see the module doc)."""

    group_wait: float = 5.0
    replace_task_alerts: bool = True
    repeat_interval: float = 0.0


def group_key(alert: Alert, channel: str) -> str | None:
    """The key shared by the alerts sent as one message with ``alert`` on ``channel``; None when
    ``alert`` is never grouped."""
    if alert.kind not in GROUPED_KINDS:
        return None
    parts = [channel, alert.kind.value, alert.dag_id, alert.run_id]
    if alert.recipients:
        parts.append(",".join(sorted(set(alert.recipients))))
    key = "|".join(parts)
    if len(key) > KEY_CHARS:
        digest = hashlib.sha256(key.encode()).hexdigest()
        key = key[: KEY_CHARS - len(digest) - 1] + "#" + digest
    return key


def replaceable(alert: Alert, channel: str, config: NoiseConfig) -> bool:
    """Whether a run-failure alert on ``channel`` replaces ``alert`` (a task alert of that run)."""
    return config.replace_task_alerts and channel != EMAIL and alert.kind in TASK_KINDS


def replaces(alert: Alert, channel: str, config: NoiseConfig) -> bool:
    """Whether ``alert`` on ``channel`` replaces its run's task alerts there."""
    return config.replace_task_alerts and channel != EMAIL and alert.kind is AlertKind.RUN_FAILED


def repeat_suppressed(last_alerted_at: datetime | None, now: datetime, interval: float) -> bool:
    """Whether a run-failure alert of a DAG at ``now`` is a repeat to suppress: its previous one
    (since the DAG's last successful run) was raised less than ``interval`` seconds ago."""
    if interval <= 0 or last_alerted_at is None:
        return False
    return now - last_alerted_at < timedelta(seconds=interval)


def compose(leader: Alert, members: list[Alert], total: int) -> Alert:
    """``leader`` standing for ``total`` alerts, listing the first :data:`LISTED` of ``members``
    (oldest first). A group of one is ``leader`` unchanged."""
    if total <= 1 and (leader.kind is not AlertKind.RUN_FAILED or total <= 0):
        return leader
    return replace(leader, members=tuple(members[:LISTED]), member_count=total)
