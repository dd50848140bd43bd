"""Parsing one DAG file in a forked child process.

The processor forks its warm parent (Windvane and the usual operators are
already imported, so a child only runs the user's file) and the child:

1. sends its stdout/stderr to the processor log (or ``/dev/null``) so user
   prints cannot corrupt anything, and restores default signal handling
   (:class:`~windvane.core.forking.handle.ForkedChild` does both);
2. imports the file as a uniquely named module with the file's folder on
   ``sys.path`` (as Airflow does);
3. collects every DAG: module globals that are DAGs plus DAGs whose
   ``with`` block completed during the import (``@dag`` functions that were
   called included);
4. validates and serializes each DAG, sets its ``fileloc`` to the file;
5. reports one JSON :class:`ParseOutcome` (framed over the pipe by the
   supervised fork, :mod:`windvane.core.forking`) and ``os._exit``\\ s.

Errors become text with the traceback trimmed to the user's frames: frames
inside Windvane itself, ``importlib`` and ``runpy`` are dropped. An error of
one DAG (a cycle, a bad schedule) names that DAG; the file's other DAGs are
still returned.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.file_modules import module_name_for
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.forking.child import CHILD_INTERNAL_ERROR
from windvane.core.forking.handle import ForkedChild
from windvane.core.model.tracebacks import format_user_traceback
from windvane.core.task_api import secrets

__all__ = [
    "CHILD_INTERNAL_ERROR",
    "ParseOutcome",
    "dag_hash_of",
    "fork_parser",
    "format_user_traceback",
    "module_name_for",
    "parse_file",
    "parse_in_child",
]


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
    """Import ``path`` in *this* process and serialize its DAGs (the child's work; also handy in
    tests). Whether each DAG's first run can be computed is left to the processor, which checks
    it once per schedule rather than once per DAG (:func:`~.dag_context.defer_first_run`)."""
    deferred = authoring_context.defer_first_run(True)
    try:
        return _parse_file(path)
    finally:
        authoring_context.defer_first_run(deferred)


def _parse_file(path: str) -> ParseOutcome:
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
        with secrets.parsing(path):  # a Variable read at the top level is logged, naming the line
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


def parse_in_child(path: str) -> bytes:
    """The body of a parse child: the encoded :class:`ParseOutcome` of ``path``, errors included."""
    gc.disable()  # short-lived: skip collections, keep copy-on-write pages shared
    try:
        outcome = parse_file(path)
    except BaseException as error:  # reading the file failed, or a DAG broke serialization badly
        outcome = ParseOutcome("", error=f"{path}: {format_user_traceback(error)}")
    return outcome.encode()


def fork_parser(
    path: str,
    *,
    timeout: float | None = None,
    log_path: str | None = None,
    after_fork: Callable[[], None] | None = None,
    memory_limit_bytes: int = 0,
    stdio_inherited: bool = False,
    lean: bool = False,
) -> ForkedChild:
    """Fork a child that parses ``path`` and reports its :class:`ParseOutcome`.

    The child's output goes to ``log_path`` (or ``/dev/null``; with ``stdio_inherited`` it keeps
    this process's, already sent there); past
    ``timeout`` seconds it is killed (SIGKILL, no grace). It exits with
    :data:`CHILD_INTERNAL_ERROR` if its own machinery failed. ``after_fork``
    runs first in the child (e.g. to drop inherited DB connections without
    closing them under the parent). ``memory_limit_bytes`` caps its address space (0: none).
    ``lean``: fork without running ``os.register_at_fork`` hooks
    (:func:`~windvane.core.forking.lean_fork.lean_fork`; the parse template's choice).
    """
    return ForkedChild.fork(
        functools.partial(parse_in_child, path),
        after_fork=after_fork,
        stdio=None if stdio_inherited else log_path or os.devnull,
        deadline_seconds=timeout,
        kill_grace_seconds=0,
        memory_limit_bytes=memory_limit_bytes,
        lean=lean,
    )
