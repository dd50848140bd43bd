"""What the DAG processor and its parse template say to each other, and how it is framed.

The processor (:mod:`.template_client`) writes a :class:`TemplateSetup` once, then a
:class:`ParseRequest` per pass, on the template's request pipe. The template
(:mod:`.template`) answers on its result pipe with tuples: ``("ready", pid)`` or
``("failed", traceback text)`` once after the setup; then, per request, ``("started", path)``
when it forks the child for a file, ``("result", *RawResult)`` when that child ended (its report
undecoded: the processor decodes it), and
``("done",)`` after the last file. Each message is a pickle framed by its length: both ends are
Windvane processes of one installation (the template is started by the processor), never
user code, so pickle is safe here.

Kept light on purpose: the template imports it before anything else.
"""

from __future__ import annotations

import os
import pickle
import struct
from dataclasses import dataclass, field
from typing import IO, Any

from windvane.core.authoring.defaults import AuthoringDefaults
from windvane.core.model.secrets_config import SecretsConfig

_LENGTH = struct.Struct("!I")


@dataclass(frozen=True)
class TemplateSetup:
    """How the template sets itself up before it forks any child (fixed for its life).

    ``sys_path`` and ``cwd`` are the processor's; ``authoring`` the authoring defaults DAG files
    are read with; ``containment`` the ``[core] process_containment`` mode in effect;
    ``secrets`` where a DAG file's top-level Connection/Variable reads go (None: not
    configured); ``log_path`` where the template's own stderr goes (None: ``/dev/null``);
    ``parent_pid`` the processor's pid (the template ends when it dies).
    """

    sys_path: tuple[str, ...]
    cwd: str
    authoring: AuthoringDefaults
    containment: str
    secrets: SecretsConfig | None = field(default=None, repr=False)
    log_path: str | None = None
    parent_pid: int = 0


@dataclass(frozen=True)
class ParseRequest:
    """Parse ``paths``, at most ``parallelism`` at once (see :func:`~.pool.parse_files`)."""

    paths: tuple[str, ...]
    parallelism: int
    timeout: float
    log_path: str | None
    memory_limit_mib: int


def send(fd: int, message: Any) -> None:
    """Write ``message`` framed to ``fd`` (blocks while the reader catches up)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def receive(stream: IO[bytes]) -> Any:
    """The next message on ``stream`` (a buffered binary file); None at end of file."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)
