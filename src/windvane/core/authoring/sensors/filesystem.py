"""FileSensor: wait for a file or folder to exist (glob patterns, Airflow's ``FileSensor``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from glob import glob
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.hooks.base import BaseHook
from windvane.core.authoring.per_instance import keep
from windvane.core.authoring.sensors.base import BaseSensorOperator
from windvane.errors import StoreError, TaskFailedNoRetry

log = logging.getLogger("windvane.task")

#: The base path of ``fs_default`` when no such connection is configured (Airflow's default ``/``).
DEFAULT_BASE_PATH = "/"


class FileSensor(BaseSensorOperator):
    """Wait until ``filepath`` (a path or glob pattern, templated) matches a file, or a folder with a
    file somewhere inside.

    :param filepath: relative to the base path of ``fs_conn_id`` (its ``extra`` ``{"path": ...}``);
        an absolute path ignores the base.
    :param fs_conn_id: a connection of type ``fs``; ``fs_default`` falls back to ``/`` when it is
        not configured.
    :param recursive: ``**`` in the pattern matches any number of folders.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("filepath",)
    ui_color: ClassVar[str] = "#91818a"
    # Defaults on the class: a sensor stores what it changes (per_instance.keep).
    fs_conn_id: str = "fs_default"
    recursive: bool = False

    def __init__(
        self, *, filepath: str, fs_conn_id: str = "fs_default", recursive: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        self.filepath = v.string(filepath, "filepath", owner)
        keep(self, "fs_conn_id", v.string(fs_conn_id, "fs_conn_id", owner))
        keep(self, "recursive", v.flag(recursive, "recursive", owner))

    def poke(self, context: dict[str, Any]) -> bool:
        full_path = os.path.join(self.base_path(context), self.filepath)
        log.info("Poking for file %s", full_path)
        for path in glob(full_path, recursive=self.recursive):
            if os.path.isfile(path):
                modified = datetime.fromtimestamp(os.path.getmtime(path), UTC).strftime("%Y%m%d%H%M%S")
                log.info("Found file %s last modified: %s", path, modified)
                return True
            for _, _, files in os.walk(path):
                if files:
                    return True
        return False

    def base_path(self, context: Mapping[str, Any]) -> str:
        """The ``path`` in the ``extra`` of connection ``fs_conn_id`` (``/`` for ``fs_default`` when
        no such connection is configured), read through ``BaseHook.get_connection``."""
        try:
            extra = BaseHook.get_connection(self.fs_conn_id).extra_dejson
        except StoreError as exc:  # NotFoundError too: no backend has it, or none is configured
            if self.fs_conn_id == "fs_default":
                return DEFAULT_BASE_PATH
            raise TaskFailedNoRetry(f"FileSensor {self.task_id!r}: {exc}") from exc
        return str(extra.get("path", "") or "")
