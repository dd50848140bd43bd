"""The parsed DAG folder (the ``dagbag``): every file's facts, its DAGs, import errors, parse times.

:meth:`DagFolder.parse` lists the folder like the DAG processor does
(``.windvaneignore`` honoured) and parses every file once, each in its own
child (:mod:`.parse`). The result is plain data; live :class:`~windvane.core.authoring.dag.DAG`
objects (for tests that run tasks) are imported in *this* process on demand
by :meth:`DagFolder.get_dag` / :attr:`DagFolder.dags`, only from files that
parsed cleanly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from windvane.core.authoring.dag import DAG
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.processor.discovery import list_dag_files
from windvane.core.worker.dag_loader import DagLoader
from windvane.errors import DagImportError, NotFoundError
from windvane.testing.integrity.facts import DagFacts, FileFacts
from windvane.testing.integrity.guards import DEFAULT_SECRET_PATTERNS
from windvane.testing.integrity.parse import inspect_files


@dataclass(frozen=True)
class ParseSettings:
    """How files are parsed: per-file ``timeout`` (s), children at once, secret env patterns."""

    timeout: float = 30.0
    parallelism: int = field(default_factory=lambda: os.cpu_count() or 1)
    secret_patterns: tuple[str, ...] = DEFAULT_SECRET_PATTERNS


class DagFolder(Mapping[str, DAG]):
    """A parsed DAG folder; as a mapping, ``dag_id -> DAG`` (imported in this process on access).

    ``files`` are the absolute paths listed; ``facts[path]`` what parsing found;
    :attr:`import_errors` ``path -> error``; :attr:`durations` ``path -> seconds``.
    """

    def __init__(self, folder: str, facts: Mapping[str, FileFacts]) -> None:
        self.folder = os.path.abspath(folder)
        self.facts = dict(sorted(facts.items()))
        self.files = list(self.facts)
        self._loader = DagLoader()
        self._live: dict[str, DAG] = {}

    @classmethod
    def parse(cls, folder: str, settings: ParseSettings | None = None) -> DagFolder:
        """List ``folder`` and parse every file in it, each once, in isolated children."""
        settings = settings or ParseSettings()
        root = os.path.abspath(folder)
        paths = list_dag_files(root)
        user_root = root if os.path.isdir(root) else os.path.dirname(root)
        facts = inspect_files(
            paths,
            user_root=user_root,
            timeout=settings.timeout,
            parallelism=settings.parallelism,
            secret_patterns=settings.secret_patterns,
        )
        return cls(root, facts)

    # -- plain data ------------------------------------------------------------------------
    def relpath(self, path: str) -> str:
        """``path`` relative to the folder (the key of the baseline and of ``dags check`` ids)."""
        base = self.folder if os.path.isdir(self.folder) else os.path.dirname(self.folder)
        return os.path.relpath(path, base)

    @property
    def import_errors(self) -> dict[str, str]:
        """``path -> error`` of the files that failed to import (timeouts and crashes included)."""
        return {p: f.error for p, f in self.facts.items() if f.error is not None}

    @property
    def durations(self) -> dict[str, float]:
        """``path -> seconds`` each file took to parse (its child's whole life)."""
        return {p: f.duration for p, f in self.facts.items()}

    def slowest(self, count: int) -> list[tuple[str, float]]:
        """The ``count`` slowest files, slowest first."""
        return sorted(self.durations.items(), key=lambda item: (-item[1], item[0]))[:count]

    @cached_property
    def dag_files(self) -> dict[str, list[str]]:
        """``dag_id -> files`` defining it (more than one file: a duplicate dag_id)."""
        found: dict[str, list[str]] = {}
        for path, facts in self.facts.items():
            for dag in facts.dags:
                found.setdefault(dag.dag_id, []).append(path)
        return found

    def dag_facts(self, dag_id: str) -> DagFacts:
        """The facts of ``dag_id`` (from the first file defining it)."""
        for path in self.dag_files.get(dag_id, []):
            for dag in self.facts[path].dags:
                if dag.dag_id == dag_id:
                    return dag
        raise NotFoundError(f"DAG {dag_id!r} is not defined in {self.folder}")

    def serialized(self, dag_id: str) -> SerializedDag:
        """``dag_id`` as the scheduler would see it."""
        facts = self.dag_facts(dag_id)
        if facts.serialized is None:
            raise NotFoundError(f"DAG {dag_id!r} could not be serialized:\n{facts.serialize_error}")
        return SerializedDag.from_json(facts.serialized)

    # -- live DAGs (imported in this process) ------------------------------------------------
    def get_dag(self, dag_id: str) -> DAG:
        """The live DAG ``dag_id``, imported in this process from the file defining it."""
        if dag_id not in self._live:
            files = self.dag_files.get(dag_id)
            if not files:
                raise NotFoundError(f"DAG {dag_id!r} is not defined in {self.folder}")
            self._live[dag_id] = self._loader.get_dag(files[0], dag_id)
        return self._live[dag_id]

    def __getitem__(self, dag_id: str) -> DAG:
        if dag_id not in self.dag_files:
            raise KeyError(dag_id)
        return self.get_dag(dag_id)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.dag_files))

    def __len__(self) -> int:
        return len(self.dag_files)

    @property
    def dags(self) -> dict[str, DAG]:
        """``dag_id -> DAG`` of every DAG that imports in this process (a file with a cycle or a
        duplicate task id does not: the checks deferred those errors, a real import raises them)."""
        found: dict[str, DAG] = {}
        for dag_id in self:
            try:
                found[dag_id] = self.get_dag(dag_id)
            except DagImportError:
                continue
        return found
