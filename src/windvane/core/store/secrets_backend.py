"""The metadata-DB secrets backend (``metastore``): the ``connection`` and ``variable`` tables.

Works in lean workers and their forked task children: it opens a
:class:`~windvane.core.store.raw.RawDb` of its own on first use, and again in a forked child
(a connection must never be shared across ``fork``). A variable marked sensitive is
registered with the process's masker when read.
"""

from __future__ import annotations

import os

from windvane.core.model.connection import Connection
from windvane.core.store import secrets_sql
from windvane.core.store.fernet import FernetCodec
from windvane.core.store.raw import RawDb
from windvane.core.task_api.masking import masker


class MetastoreBackend:
    """Connections and Variables stored in the metadata database at ``db_url``."""

    name = "metastore"

    def __init__(self, db_url: str, codec: FernetCodec) -> None:
        self.db_url = db_url
        self.codec = codec
        self._db: RawDb | None = None
        self._pid = 0

    def get_connection(self, conn_id: str) -> Connection | None:
        return self._raw().read(lambda tx: secrets_sql.get_connection(tx, self.codec, conn_id))

    def get_variable(self, key: str) -> str | None:
        found = self._raw().read(lambda tx: secrets_sql.get_variable(tx, self.codec, key))
        if found is None:
            return None
        if found.is_sensitive and found.value is not None:
            masker().add(found.value)
        return found.value

    def set_variable(
        self, key: str, value: str, *, description: str | None = None, sensitive: bool = False
    ) -> None:
        self._raw().write(
            lambda tx: secrets_sql.set_variable(
                tx, self.codec, key, value, description=description, sensitive=sensitive
            )
        )

    def delete_variable(self, key: str) -> bool:
        return self._raw().write(lambda tx: secrets_sql.delete_variable(tx, key))

    def close(self) -> None:
        if self._db is not None and self._pid == os.getpid():
            self._db.close()
        self._db = None

    def _raw(self) -> RawDb:
        if self._db is None or self._pid != os.getpid():
            self._db = RawDb(self.db_url)  # an inherited one is dropped, never closed under the parent
            self._pid = os.getpid()
        return self._db
