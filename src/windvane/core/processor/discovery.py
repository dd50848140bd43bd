"""Finding DAG files and telling which ones changed.

:func:`list_dag_files` walks the DAGs folder (like Airflow's
``list_py_file_paths``): every ``*.py`` file, recursively, skipping hidden
entries, ``__pycache__`` and whatever a ``.windvaneignore`` file excludes.
Each line of an ignore file is a regular expression searched in the path
relative to the folder holding that ignore file (Airflow's ``.airflowignore``
regexp syntax); it applies to that folder and everything below it. Blank
lines and lines starting with ``#`` are skipped.

:class:`ChangeDetector` decides what needs parsing with as little I/O as
possible: a ``stat`` first, and only when ``(mtime_ns, size)`` moved does it
read the file, hash it (sha256) and compare with the hash parsed last time.
In safe mode (Airflow's ``DAG_DISCOVERY_SAFE_MODE``) a file is a DAG file only
if its text contains both "dag" and "windvane", case-insensitively.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

IGNORE_FILE = ".windvaneignore"
SAFE_MODE_WORDS = (b"dag", b"windvane")


@dataclass(frozen=True, slots=True)
class _IgnoreRule:
    base: str
    pattern: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.pattern.search(os.path.relpath(path, self.base)) is not None


def _read_ignore_rules(folder: str) -> list[_IgnoreRule]:
    path = os.path.join(folder, IGNORE_FILE)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    rules: list[_IgnoreRule] = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            rules.append(_IgnoreRule(folder, re.compile(line)))
        except re.error:
            continue  # A broken pattern ignores nothing rather than everything.
    return rules


def list_dag_files(dags_folder: str) -> list[str]:
    """Absolute paths of the candidate ``*.py`` files under ``dags_folder``, sorted.

    Symbolic links to folders are followed once (a loop is not walked twice).
    A missing folder yields no files.
    """
    root = os.path.abspath(dags_folder)
    if os.path.isfile(root):
        return [root] if root.endswith(".py") else []
    found: list[str] = []
    rules_by_dir: dict[str, list[_IgnoreRule]] = {}
    seen_real: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen_real:
            dirnames[:] = []
            continue
        seen_real.add(real)
        rules = rules_by_dir.get(dirpath, []) + _read_ignore_rules(dirpath)
        kept: list[str] = []
        for name in sorted(dirnames):
            sub = os.path.join(dirpath, name)
            if name.startswith(".") or name == "__pycache__" or any(r.matches(sub) for r in rules):
                continue
            kept.append(name)
            rules_by_dir[sub] = rules
        dirnames[:] = kept
        for name in filenames:
            if name.startswith(".") or not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            if not any(r.matches(path) for r in rules):
                found.append(path)
    found.sort()
    return found


def might_contain_dag(content: bytes) -> bool:
    """Safe-mode test: the text mentions both "dag" and "windvane" (any case)."""
    lowered = content.lower()
    return all(word in lowered for word in SAFE_MODE_WORDS)


@dataclass(frozen=True, slots=True)
class FileState:
    """What was last seen of one file."""

    mtime_ns: int
    size: int
    content_hash: str
    is_dag_file: bool


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One pass over the folder.

    ``to_parse`` and ``unchanged`` hold DAG files (safe mode passed);
    ``not_dag_files`` the candidates safe mode rejected; ``vanished`` the DAG
    files known before that are gone or no longer DAG files.
    """

    to_parse: list[str]
    unchanged: list[str]
    not_dag_files: list[str]
    vanished: list[str]
    hashes: dict[str, str]


class ChangeDetector:
    """Remembers ``(mtime_ns, size, sha256)`` per file between scans.

    ``parsed_hashes`` seeds it with the hashes stored when files were last
    parsed (the ``dag_file`` table), so a restarted processor does not
    re-parse unchanged files.
    """

    def __init__(self, *, safe_mode: bool = True, parsed_hashes: Mapping[str, str] | None = None) -> None:
        self.safe_mode = safe_mode
        self._states: dict[str, FileState] = {}
        self._parsed: dict[str, str] = dict(parsed_hashes or {})

    @property
    def known_dag_files(self) -> set[str]:
        """Files whose DAGs are (or were last) in the store."""
        return set(self._parsed)

    def scan(self, paths: Iterable[str], *, force: bool = False) -> ScanResult:
        """Classify ``paths`` (the current listing); a file is re-parsed if its hash changed or ``force``."""
        to_parse: list[str] = []
        unchanged: list[str] = []
        not_dag: list[str] = []
        hashes: dict[str, str] = {}
        present: set[str] = set()
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            present.add(path)
            state = self._states.get(path)
            if state is None or state.mtime_ns != st.st_mtime_ns or state.size != st.st_size:
                state = self._read(path, st)
                if state is None:
                    present.discard(path)
                    continue
                self._states[path] = state
            if not state.is_dag_file:
                not_dag.append(path)
                continue
            hashes[path] = state.content_hash
            if force or self._parsed.get(path) != state.content_hash:
                to_parse.append(path)
            else:
                unchanged.append(path)
        for gone in set(self._states) - present:
            del self._states[gone]
        vanished = sorted(p for p in self._parsed if p not in hashes)
        return ScanResult(to_parse, unchanged, not_dag, vanished, hashes)

    def _read(self, path: str, st: os.stat_result) -> FileState | None:
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError:
            return None
        is_dag = might_contain_dag(content) if self.safe_mode else True
        return FileState(st.st_mtime_ns, st.st_size, hashlib.sha256(content).hexdigest(), is_dag)

    def state(self, path: str) -> FileState | None:
        """What the last scan saw of ``path``."""
        return self._states.get(path)

    def mark_parsed(self, path: str, content_hash: str) -> None:
        """Record that ``path`` was parsed at ``content_hash`` (its result is stored)."""
        self._parsed[path] = content_hash

    def forget(self, path: str) -> None:
        """``path`` is gone or no longer a DAG file: its stored result was removed."""
        self._parsed.pop(path, None)

    def invalidate(self, path: str) -> None:
        """Parse ``path`` again on the next scan even if it did not change."""
        if path in self._parsed:
            self._parsed[path] = ""
