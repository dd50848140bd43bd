"""Top-level access guards: what a parse child installs before it imports a DAG file.

A DAG file runs on every parse (every few seconds, in every DAG processor), so
work at import time — a query, an HTTP call, reading a secret — is a bug
(Airflow's "top-level code" rule). In the child, before the import:

* network: ``socket.socket.connect``/``connect_ex``/``sendto`` and
  ``socket.getaddrinfo`` are blocked: the call raises
  :class:`TopLevelAccessError` and is recorded;
* database: ``sqlite3.connect`` and SQLAlchemy ``Engine.connect``/``raw_connection``
  are blocked the same way (a server database is reached over a socket, so the
  network guard stops it too);
* secrets: reads of ``os.environ`` keys matching :data:`DEFAULT_SECRET_PATTERNS`
  (variables and connections given as environment variables, passwords,
  tokens...) are recorded, not blocked.

Each record names the user's ``file:line`` (the innermost frame under the DAG
folder). The guards are never removed: the child exits after the import. This
module never runs in the parent process.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from windvane.errors import WindvaneError
from windvane.testing.integrity.facts import Access

#: Environment keys whose reads count as secret access (case-insensitive regular expressions).
DEFAULT_SECRET_PATTERNS = (
    r"^(WINDVANE|AIRFLOW)_(VAR|CONN)_",
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL",
)


class TopLevelAccessError(WindvaneError, ConnectionError):
    """A DAG file tried to reach the network or a database while it was imported.

    A ``ConnectionError`` so that code which handles an unreachable service
    goes on as it would in production; the access is recorded either way and
    fails the file's ``top_level_access`` check.
    """


class AccessLog:
    """The accesses recorded in this child, and where user code made them."""

    def __init__(self, user_root: str, fallback: str) -> None:
        self.user_root = os.path.abspath(user_root) + os.sep
        self.fallback = fallback
        self.accesses: list[Access] = []

    def where(self) -> str:
        """``file:line`` of the innermost frame under the DAG folder (the file itself if none)."""
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            name = os.path.abspath(frame.f_code.co_filename)
            if name.startswith(self.user_root):
                return f"{os.path.relpath(name, self.user_root)}:{frame.f_lineno}"
            frame = frame.f_back
        return self.fallback

    def record(self, kind: str, detail: str) -> Access:
        access = Access(kind, detail, self.where())
        self.accesses.append(access)
        return access

    def block(self, kind: str, detail: str) -> TopLevelAccessError:
        access = self.record(kind, detail)
        return TopLevelAccessError(
            f"{access.describe()}; DAG files must not do I/O when they are parsed: "
            "move it into a task (blocked by the Windvane DAG checks)"
        )


def _address(args: Sequence[Any]) -> str:
    return repr(args[0]) if args else "?"


def _guard_sockets(log: AccessLog) -> None:
    def blocked(what: str) -> Callable[..., Any]:
        def guard(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
            raise log.block("network", f"socket.{what}({_address(args[-1:] if what == 'sendto' else args)})")

        return guard

    for name in ("connect", "connect_ex", "sendto"):
        setattr(socket.socket, name, blocked(name))

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        raise log.block("network", f"socket.getaddrinfo({host!r}, {port!r})")

    socket.getaddrinfo = getaddrinfo


def _guard_databases(log: AccessLog) -> None:
    def sqlite_connect(database: Any, *args: Any, **kwargs: Any) -> Any:
        raise log.block("database", f"sqlite3.connect({database!r})")

    sqlite3.connect = sqlite_connect
    try:
        from sqlalchemy.engine import Engine
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return

    def engine_guard(what: str) -> Callable[..., Any]:
        def guard(self: Engine, *args: Any, **kwargs: Any) -> Any:
            url = self.url.render_as_string(hide_password=True)
            raise log.block("database", f"Engine.{what}() on {url}")

        return guard

    Engine.connect = engine_guard("connect")  # type: ignore[method-assign]
    Engine.raw_connection = engine_guard("raw_connection")  # type: ignore[method-assign]


def _guard_environ(log: AccessLog, patterns: Sequence[str]) -> None:
    secret = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    base = type(os.environ)

    class RecordingEnviron(base):  # type: ignore[valid-type,misc]
        def __getitem__(self, key: str) -> str:
            if isinstance(key, str) and secret.search(key):
                log.record("secret", f"os.environ[{key!r}]")
            return super().__getitem__(key)  # type: ignore[no-any-return]

    os.environ.__class__ = RecordingEnviron


def install_guards(log: AccessLog, secret_patterns: Sequence[str] = DEFAULT_SECRET_PATTERNS) -> None:
    """Install every guard in this (child) process; accesses go to ``log``."""
    _guard_sockets(log)
    _guard_databases(log)
    if secret_patterns:
        _guard_environ(log, secret_patterns)
