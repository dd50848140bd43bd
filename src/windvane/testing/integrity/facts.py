"""What a parse child reports about one DAG file: plain data, JSON both ways.

A child imports the user's file and describes it (:mod:`.child`); the checks
(:mod:`.checks`) read only these facts, so they run in the parent, in the CLI
and in tests without importing user code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Access:
    """One database, network or secret access made while the file was imported.

    ``kind`` is ``"network"``, ``"database"`` or ``"secret"``; ``where`` the
    user's ``file:line`` that made it.
    """

    kind: str
    detail: str
    where: str

    def describe(self) -> str:
        return f"{self.kind} access at import time: {self.detail} ({self.where})"


@dataclass(frozen=True, slots=True)
class DagFacts:
    """One DAG as defined by its file, with what its definition-time checks found.

    ``upstream`` maps each task id to its upstream ids; ``duplicate_task_ids``
    holds the messages of tasks added under an id already taken (definition
    checks are deferred in the child so that a cycle or a duplicate id fails its
    own check, not the whole file); ``first_run`` is the logical date of the
    first scheduled run (None: there is none); ``owners``/``retries`` are per
    task; ``serialized`` is the :class:`~windvane.core.model.serialized_dag.SerializedDag`
    JSON, or None with ``serialize_error``.
    """

    dag_id: str
    line: int
    upstream: dict[str, list[str]]
    duplicate_task_ids: list[str] = field(default_factory=list)
    schedule: str = ""
    schedulable: bool = False
    start_date: str | None = None
    end_date: str | None = None
    timetable_error: str | None = None
    first_run: str | None = None
    default_args: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    serialized: str | None = None
    serialize_error: str | None = None
    #: Other DAGs its tasks point at: one dict per ExternalTaskSensor / TriggerDagRunOperator whose
    #: target is not templated (``task_id``, ``operator``, ``dag_id``, ``task_ids``, ``group_id``).
    targets: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FileFacts:
    """One file: its DAGs or its import error, its top-level accesses and parse time.

    ``error`` is the import error (the user's traceback, trimmed); a timeout or
    a crashed child sets it too (``timed_out`` tells the first apart).
    """

    path: str
    duration: float = 0.0
    error: str | None = None
    timed_out: bool = False
    dags: list[DagFacts] = field(default_factory=list)
    accesses: list[Access] = field(default_factory=list)

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, data: bytes) -> FileFacts:
        raw: dict[str, Any] = json.loads(data)
        raw["dags"] = [DagFacts(**d) for d in raw["dags"]]
        raw["accesses"] = [Access(**a) for a in raw["accesses"]]
        return cls(**raw)

    def with_timing(self, duration: float) -> FileFacts:
        """These facts with the parent's measure of the parse time."""
        return FileFacts(self.path, duration, self.error, self.timed_out, self.dags, self.accesses)
