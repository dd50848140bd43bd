"""Parsing one DAG file in a forked child process.

The processor forks its warm parent (Windvane and the usual operators are
already imported, so a child only runs the user's file) and the child:

1. sends its stdout/stderr to the processor log (or ``/dev/null``) so user
   prints cannot corrupt anything, and restores default signal handling;
2. imports the file as a uniquely named module with the file's folder on
   ``sys.path`` (as Airflow does);
3. collects every DAG: module globals that are DAGs plus DAGs whose
   ``with`` block completed during the import (``@dag`` functions that were
   called included);
4. validates and serializes each DAG, sets its ``fileloc`` to the file;
5. writes one JSON :class:`ParseOutcome` to the pipe and ``os._exit``\\ s.

Errors become text with the traceback trimmed to the user's frames: frames
inside Windvane itself, ``importlib`` and ``runpy`` are dropped. An error of
one DAG (a cycle, a bad schedule) names that DAG; the file's other DAGs are
still returned.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import hashlib
import importlib.util
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.file_modules import module_name_for
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.model.tracebacks import format_user_traceback

__all__ = [
    "CHILD_INTERNAL_ERROR",
    "ParseOutcome",
    "dag_hash_of",
    "fork_parser",
    "format_user_traceback",
    "module_name_for",
    "parse_file",
]

#: Exit code of a child whose own machinery failed (not the user's code).
CHILD_INTERNAL_ERROR = 70


def dag_hash_of(serialized_json: str) -> str:
    """:attr:`SerializedDag.dag_hash` from the JSON text itself (saves serializing twice)."""
    return hashlib.sha256(serialized_json.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ParseOutcome:
    """What a child reports for one file: the sha256 of the bytes it parsed, the serialized
    DAG JSON texts with their ``dag_hash`` (``hashes[i]`` belongs to ``dags[i]``), and/or an error."""

    content_hash: str
    dags: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    error: str | None = None

    def encode(self) -> bytes:
        raw = {"hash": self.content_hash, "dags": self.dags, "hashes": self.hashes, "error": self.error}
        return json.dumps(raw).encode()

    @classmethod
    def decode(cls, data: bytes) -> ParseOutcome:
        raw: dict[str, Any] = json.loads(data)
        dags, hashes = list(raw["dags"]), list(raw["hashes"])
        if len(dags) != len(hashes):
            raise ValueError("a parse outcome needs one hash per DAG")
        return cls(content_hash=raw["hash"], dags=dags, hashes=hashes, error=raw["error"])


def _collect(module_globals: dict[str, Any], registered: list[DAG]) -> list[DAG]:
    found: list[DAG] = list(registered)
    for value in list(module_globals.values()):
        if isinstance(value, DAG) and not any(value is d for d in found):
            found.append(value)
    return found


def parse_file(path: str) -> ParseOutcome:
    """Import ``path`` in *this* process and serialize its DAGs (the child's work; also handy in tests)."""
    with open(path, "rb") as handle:
        source = handle.read()
    content_hash = hashlib.sha256(source).hexdigest()
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = module_name_for(path)
    registered = authoring_context.start_collecting()
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None:
            return ParseOutcome(content_hash, error=f"{path}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        # Compiled from the bytes just hashed: never a stale .pyc, none written into the DAGs folder.
        code = compile(source, path, "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except BaseException as error:  # user code may raise anything, SystemExit included
        return ParseOutcome(content_hash, error=format_user_traceback(error))
    finally:
        authoring_context.stop_collecting()
    return _serialize_all(path, content_hash, _collect(module.__dict__, registered))


def _serialize_all(path: str, content_hash: str, dags: list[DAG]) -> ParseOutcome:
    texts: list[str] = []
    errors: list[str] = []
    seen: set[str] = set()
    for dag in dags:
        if dag.dag_id in seen:
            errors.append(f"DAG {dag.dag_id!r} is defined more than once in {path}")
            continue
        seen.add(dag.dag_id)
        try:
            dag.fileloc = path
            dag.validate()
            texts.append(serialize_dag(dag).to_json())
        except Exception as error:
            errors.append(f"DAG {dag.dag_id!r} in {path} is invalid:\n{format_user_traceback(error)}")
    hashes = [dag_hash_of(text) for text in texts]
    return ParseOutcome(content_hash, dags=texts, hashes=hashes, error="\n\n".join(errors) or None)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _child_main(path: str, write_fd: int, log_path: str | None) -> None:
    gc.disable()  # short-lived: skip collections, keep copy-on-write pages shared
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGALRM):
        signal.signal(signum, signal.SIG_DFL)
    null_in = os.open(os.devnull, os.O_RDONLY)
    sink = os.open(log_path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null_in, 0)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    os.close(null_in)
    os.close(sink)
    # Fresh streams on the new fds: the inherited ones may write elsewhere (a test runner's capture).
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    faulthandler.enable(file=2)  # a crash in an extension module leaves its traceback in the log
    try:
        outcome = parse_file(path)
    except BaseException as error:  # reading the file failed, or a DAG broke serialization badly
        outcome = ParseOutcome("", error=f"{path}: {format_user_traceback(error)}")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    _write_all(write_fd, outcome.encode())
    os.close(write_fd)


def fork_parser(
    path: str, *, log_path: str | None = None, after_fork: Callable[[], None] | None = None
) -> tuple[int, int]:
    """Fork a child that parses ``path``; returns ``(pid, read_fd)`` of its result pipe.

    The child never returns: it ``os._exit``\\ s with 0 once the outcome is
    written, or :data:`CHILD_INTERNAL_ERROR` if its own machinery failed.
    ``after_fork`` runs first in the child (e.g. to drop inherited DB
    connections without closing them under the parent).
    """
    for stream in (sys.stdout, sys.stderr):  # or the child would repeat buffered output
        with contextlib.suppress(Exception):
            stream.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
        code = CHILD_INTERNAL_ERROR
        try:
            os.close(read_fd)
            if after_fork is not None:
                after_fork()
            _child_main(path, write_fd, log_path)
            code = 0
        except BaseException:
            pass
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd
