"""The process-wide secrets masker: every secret handed to a task is replaced by ``***`` on output.

The secrets resolver (:mod:`windvane.core.task_api.secrets`) registers each secret it hands
out (a Connection's password, the values of sensitive-named ``extra`` keys, a Variable marked
sensitive or whose key is sensitive-named) with :func:`masker`; each output channel calls
:func:`redact` (the task log writer, the error stored for a failed try, the CLI). A secret
is also masked in its URL-encoded forms. Secrets shorter than :data:`MIN_SECRET_LENGTH`
characters are not registered: masking ``"a"`` would garble every line.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO, cast
from urllib.parse import quote, quote_plus

MASK = "***"
#: Shorter secrets are not masked (they would match everywhere).
MIN_SECRET_LENGTH = 4
#: Key names whose values are secrets (a key containing one of them, case-insensitively), as
#: Airflow's ``DEFAULT_SENSITIVE_FIELDS``; ``[core] sensitive_var_conn_names`` adds more.
DEFAULT_SENSITIVE_NAMES = (
    "access_token",
    "api_key",
    "apikey",
    "authorization",
    "passphrase",
    "passwd",
    "password",
    "private_key",
    "secret",
    "token",
    "keyfile_dict",
    "service_account",
)


class SecretsMasker:
    """The secrets to hide and the key names that mark a value secret; thread-safe."""

    def __init__(self, sensitive_names: Iterable[str] = DEFAULT_SENSITIVE_NAMES) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._names: tuple[str, ...] = ()
        self.set_sensitive_names(sensitive_names)

    @property
    def sensitive_names(self) -> tuple[str, ...]:
        return self._names

    def set_sensitive_names(self, names: Iterable[str]) -> None:
        """The key names that mark a value secret (lower-cased; the defaults are always kept)."""
        merged = {*DEFAULT_SENSITIVE_NAMES, *(name.strip().lower() for name in names if name.strip())}
        self._names = tuple(sorted(merged))

    def is_sensitive_name(self, key: str) -> bool:
        """Whether ``key`` names a secret (``db_password``, ``API_KEY``, ``x-authorization``...)."""
        lowered = key.lower()
        return any(name in lowered for name in self._names)

    def add(self, secret: object) -> None:
        """Mask ``secret`` (a string; dicts and lists: each string in them) from now on."""
        found: set[str] = set()
        _strings(secret, found)
        forms = {form for text in found for form in _forms(text) if len(form) >= MIN_SECRET_LENGTH}
        if not forms:
            return
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._secrets, key=lambda s: (-len(s), s))
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def add_sensitive_fields(self, fields: Mapping[str, Any]) -> None:
        """Mask the values of ``fields`` whose key is sensitive-named (nested dicts too)."""
        for key, value in fields.items():
            if isinstance(value, Mapping):
                self.add_sensitive_fields(value)
            elif self.is_sensitive_name(str(key)):
                self.add(value)

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def clear(self) -> None:
        """Forget every secret (tests; a fresh process starts empty anyway)."""
        with self._lock:
            self._secrets.clear()
            self._pattern = None

    def __len__(self) -> int:
        return len(self._secrets)


def _strings(value: object, found: set[str]) -> None:
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            _strings(item, found)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _strings(item, found)


def _forms(secret: str) -> set[str]:
    """The secret as written, its lines, and URL-encoded (``%40`` and ``+`` for a space)."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    if "\n" in secret:  # a private key: each line of it is logged on its own
        forms.update(line.strip() for line in secret.splitlines())
    return forms


_MASKER = SecretsMasker()


def masker() -> SecretsMasker:
    """This process's masker (a forked child inherits what its parent registered)."""
    return _MASKER


def redact(text: str) -> str:
    """``text`` with this process's registered secrets masked."""
    return _MASKER.redact(text)


class MaskingFilter(logging.Filter):
    """A handler filter that masks the registered secrets in each record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not len(_MASKER):
            return True
        record.msg = _MASKER.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _MASKER.redact(record.exc_text)
        record.exc_info = None
        return True


class MaskedStream(io.TextIOBase):
    """A text stream that masks the registered secrets in what is written to ``inner``.

    Text is held back to the end of each line (a secret printed in two pieces is still masked)
    and written on a newline, :meth:`flush`, or past 64 KiB without one.
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self._pending = ""

    @property
    def inner(self) -> TextIO:
        return self._inner

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._inner.encoding

    @property
    def buffer(self) -> Any:
        return self._inner.buffer

    def write(self, text: str) -> int:
        if not self._pending and not len(_MASKER):
            self._inner.write(text)
            return len(text)
        whole = self._pending + text
        head, newline, tail = whole.rpartition("\n")
        if newline:
            self._inner.write(_MASKER.redact(head + newline))
        self._pending = tail
        if len(self._pending) > 65536:
            self._inner.write(_MASKER.redact(self._pending))
            self._pending = ""
        return len(text)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            self._inner.write(_MASKER.redact(pending))
        self._inner.flush()

    def fileno(self) -> int:
        return self._inner.fileno()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def masked_stdio() -> Iterator[None]:
    """Within: ``sys.stdout``/``sys.stderr`` mask the registered secrets (for tasks run in this
    process: ``dags test``, ``tasks test``)."""
    saved = sys.stdout, sys.stderr
    out, err = MaskedStream(saved[0]), MaskedStream(saved[1])
    sys.stdout, sys.stderr = cast(TextIO, out), cast(TextIO, err)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            out.flush()
            err.flush()
        sys.stdout, sys.stderr = saved
