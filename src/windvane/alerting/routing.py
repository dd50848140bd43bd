"""Which alerts a journal entry makes, and to which channels: pure functions, no database.

Rules (Airflow's meanings):

* a ``try_finished`` entry in state ``failed`` is a ``TASK_FAILED`` alert,
  ``up_for_retry`` a ``TASK_RETRY`` alert;
* a ``run_finished`` entry in state ``failed`` is a ``RUN_FAILED`` alert;
* every other entry makes none.

Channels: :class:`Routing` names the channels of each kind, plus channels
added for a DAG id or a DAG tag. The ``email`` channel is special, as in
Airflow: a task alert goes to it only when the task has ``email`` set and
``email_on_failure`` (failures) or ``email_on_retry`` (retries), with the
task's addresses as recipients; a run alert goes to it with no recipients
(the channel's configured default). Channels not in ``available`` (not
configured in this process) are left out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from windvane.alerting.alert import Alert, AlertKind, Severity
from windvane.alerting.links import Links
from windvane.core.interfaces import JournalEntry, JournalKind, SerializedDag

EMAIL = "email"
TASK_KINDS = frozenset({AlertKind.TASK_FAILED, AlertKind.TASK_RETRY})


@dataclass(frozen=True, slots=True)
class Route:
    """One ``[[alerting.routes]]`` table: where alerts matching every given matcher go.

    An empty matcher matches everything: ``dags`` are glob patterns on the DAG id
    (``fnmatch``, case-sensitive), ``tags`` match when the DAG has any of them,
    ``kinds`` and ``severities`` when the alert's is listed. ``continue_`` lets
    the walk go on to later routes after this one matched.
    """

    channels: tuple[str, ...]
    dags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    kinds: tuple[AlertKind, ...] = ()
    severities: tuple[Severity, ...] = ()
    continue_: bool = False

    def matches(self, kind: AlertKind, dag_id: str, tags: Collection[str]) -> bool:
        """Whether an alert of ``kind`` about ``dag_id`` (tagged ``tags``) matches every matcher."""
        return (
            (not self.dags or any(fnmatchcase(dag_id, pattern) for pattern in self.dags))
            and (not self.tags or any(tag in tags for tag in self.tags))
            and (not self.kinds or kind in self.kinds)
            and (not self.severities or kind.severity in self.severities)
        )


@dataclass(frozen=True, slots=True)
class Routing:
    """Routes, then channel names per alert kind (the default route), plus per-DAG and per-tag
    additions (``(key, channels)`` pairs).

    The default sends task failures and retries to ``email`` (which only
    delivers to tasks with ``email`` set) and run failures nowhere.
    """

    by_kind: tuple[tuple[AlertKind, tuple[str, ...]], ...] = (
        (AlertKind.TASK_FAILED, (EMAIL,)),
        (AlertKind.TASK_RETRY, (EMAIL,)),
    )
    by_dag: tuple[tuple[str, tuple[str, ...]], ...] = ()
    by_tag: tuple[tuple[str, tuple[str, ...]], ...] = ()
    routes: tuple[Route, ...] = ()

    def channels(self, kind: AlertKind, dag_id: str, tags: Iterable[str] = ()) -> tuple[str, ...]:
        """The channels for an alert of ``kind`` about ``dag_id`` (tagged ``tags``), in order, once each."""
        tag_set = set(tags)
        found: list[str] = []
        matched = False
        for route in self.routes:
            if route.matches(kind, dag_id, tag_set):
                matched = True
                found.extend(route.channels)
                if not route.continue_:
                    break
        if not matched:
            for k, names in self.by_kind:
                if k is kind:
                    found.extend(names)
        for dag, names in self.by_dag:
            if dag == dag_id:
                found.extend(names)
        for tag, names in self.by_tag:
            if tag in tag_set:
                found.extend(names)
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Routed:
    """One alert for one channel."""

    channel: str
    alert: Alert


def kind_of(entry: JournalEntry) -> AlertKind | None:
    """The alert kind ``entry`` announces, or None."""
    if entry.kind is JournalKind.TRY_FINISHED and entry.key is not None:
        return {"failed": AlertKind.TASK_FAILED, "up_for_retry": AlertKind.TASK_RETRY}.get(entry.state)
    if entry.kind is JournalKind.RUN_FINISHED and entry.state == "failed":
        return AlertKind.RUN_FAILED
    return None


def dedupe_key(kind: AlertKind, entry: JournalEntry, channel: str) -> str:
    """``kind|dag_id|task_id[map_index]|run_id|try_number|channel``: one per alert and channel."""
    task = ""
    if entry.key is not None:
        task = entry.key.task_id + (f"[{entry.key.map_index}]" if entry.key.map_index >= 0 else "")
    tries = "" if entry.try_number is None else str(entry.try_number)
    return "|".join((kind.value, entry.dag_id, task, entry.run_id, tries, channel))


def derive(
    entry: JournalEntry,
    dag: SerializedDag | None,
    routing: Routing,
    available: Collection[str],
    links: Links | None = None,
) -> list[Routed]:
    """The alerts ``entry`` makes, one per channel. ``dag`` is the entry's DAG as stored now
    (None when unknown: no email, the other channels still hear of it); ``links`` fill the
    log path and the UI link."""
    kind = kind_of(entry)
    if kind is None:
        return []
    links = links or Links()
    log_path, link = links.log_path(entry), links.link(entry)
    task = dag.tasks.get(entry.key.task_id) if dag is not None and entry.key is not None else None
    routed: list[Routed] = []
    for channel in routing.channels(kind, entry.dag_id, dag.tags if dag is not None else ()):
        if channel not in available:
            continue
        recipients: tuple[str, ...] = ()
        if channel == EMAIL and kind in TASK_KINDS:
            wanted = task is not None and (
                task.email_on_failure if kind is AlertKind.TASK_FAILED else task.email_on_retry
            )
            if task is None or not task.email or not wanted:
                continue
            recipients = task.email
        alert = Alert(
            dedupe_key=dedupe_key(kind, entry, channel),
            kind=kind,
            dag_id=entry.dag_id,
            run_id=entry.run_id,
            occurred_at=entry.recorded_at,
            task_id=entry.key.task_id if entry.key is not None else None,
            try_number=entry.try_number,
            max_tries=entry.max_tries,
            state=entry.state,
            error=entry.error,
            log_path=log_path,
            link=link,
            recipients=recipients,
            hostname=entry.hostname,
        )
        routed.append(Routed(channel, alert))
    return routed
