"""Import DAG files in a worker and keep the DAGs they define.

A worker runs many tries of the same few files; importing a file once per
version, not once per try, is what keeps a no-op task cheap. A file is
imported like the DAG processor does it (:mod:`windvane.core.processor.parse_child`):
as a uniquely named module (``windvane_dagfile_<hash>_<stem>``, so two
``dag.py`` files never collide with each other or with a user's module),
with its folder on ``sys.path``, compiled from the bytes on disk.

The cache is keyed by ``(path, mtime_ns, size)``: a changed file is imported
again on its next use; the previous version is dropped. It holds at most
``max_files`` files, least recently used first out (its module leaves
``sys.modules`` too), so a worker's memory stays flat however many DAG files it
has seen (:data:`MAX_CACHED_FILES` by default).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.file_modules import module_name_for
from windvane.core.model.tracebacks import format_user_traceback
from windvane.errors import DagImportError, NotFoundError

#: DAG files a worker keeps imported by default (the least recently used one is dropped past it).
MAX_CACHED_FILES = 32


@dataclass(frozen=True, slots=True)
class _Loaded:
    mtime_ns: int
    size: int
    dags: dict[str, DAG]
    module: str


class DagLoader:
    """Imports DAG files on demand and caches their DAGs by file version."""

    def __init__(self, max_files: int = MAX_CACHED_FILES) -> None:
        if max_files < 1:
            raise ValueError("a DagLoader keeps at least one file")
        self.max_files = max_files
        self._files: OrderedDict[str, _Loaded] = OrderedDict()
        #: How many file imports this loader has done (each one creates long-lived objects).
        self.imports = 0
        #: How many files it dropped to stay within ``max_files``.
        self.evictions = 0

    def dags_in(self, path: str) -> dict[str, DAG]:
        """dag_id -> DAG of every DAG ``path`` defines (module globals and completed ``with`` blocks).

        Raises :class:`DagImportError` naming the file when it is missing or
        its import fails (the message holds the user's part of the traceback).
        """
        path = os.path.abspath(path)
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise DagImportError(path, f"cannot read the DAG file: {exc.strerror or exc}") from None
        cached = self._files.get(path)
        if cached is not None and (cached.mtime_ns, cached.size) == (stat.st_mtime_ns, stat.st_size):
            self._files.move_to_end(path)
            return cached.dags
        self._drop(path)
        self.imports += 1
        dags = _import_dags(path)
        self._files[path] = _Loaded(stat.st_mtime_ns, stat.st_size, dags, module_name_for(path))
        while len(self._files) > self.max_files:
            self._drop(next(iter(self._files)))
            self.evictions += 1
        return dags

    @property
    def cached_files(self) -> int:
        """How many DAG files are imported and kept now."""
        return len(self._files)

    def get_dag(self, path: str, dag_id: str) -> DAG:
        """The DAG ``dag_id`` defined in ``path``; :class:`NotFoundError` if the file has no such DAG."""
        dags = self.dags_in(path)
        try:
            return dags[dag_id]
        except KeyError:
            known = ", ".join(sorted(dags)) or "none"
            raise NotFoundError(f"DAG {dag_id!r} is not defined in {path} (it defines: {known})") from None

    def module_globals(self, path: str) -> dict[str, object] | None:
        """The globals of ``path``'s module as imported here (None if it is not): what a try host
        compares before and after each try."""
        loaded = self._files.get(os.path.abspath(path))
        module = None if loaded is None else sys.modules.get(loaded.module)
        return None if module is None else module.__dict__

    def forget(self, path: str | None = None) -> None:
        """Drop the cached DAGs of ``path`` (of every file when None)."""
        for name in list(self._files) if path is None else [os.path.abspath(path)]:
            self._drop(name)

    def _drop(self, path: str) -> None:
        loaded = self._files.pop(path, None)
        if loaded is not None:
            sys.modules.pop(loaded.module, None)


def _import_dags(path: str) -> dict[str, DAG]:
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError as exc:
        raise DagImportError(path, f"cannot read the DAG file: {exc.strerror or exc}") from None
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise DagImportError(path, "cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    registered = authoring_context.start_collecting()
    sys.modules[name] = module
    try:
        exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)
    except (Exception, SystemExit) as exc:  # user code may raise anything at import time
        sys.modules.pop(name, None)
        raise DagImportError(path, f"import failed:\n{format_user_traceback(exc)}") from None
    finally:
        authoring_context.stop_collecting()
    dags: dict[str, DAG] = {}
    for candidate in [*registered, *module.__dict__.values()]:
        if isinstance(candidate, DAG) and candidate.dag_id not in dags:
            candidate.fileloc = path
            dags[candidate.dag_id] = candidate
    return dags
