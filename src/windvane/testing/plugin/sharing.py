"""One parse of the DAG folder for a whole xdist run, not one per worker.

The controller makes a scratch folder and hands its path to every worker
(``pytest_configure_node``: ``workerinput["windvane_parse_cache"]``). The first
worker to take the lock parses the folder and writes the facts there; the
others wait on the lock and read them, so every worker collects the same items
from the same facts. The controller removes the folder at the end. Without
xdist nothing here runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from windvane.testing.integrity import DagFolder

WORKER_KEY = "windvane_parse_cache"


class ParseCacheHost:
    """Registered in the xdist controller: owns the scratch folder the workers share."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="windvane-dag-facts-")

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_KEY] = self.folder

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def shared_folder(config: pytest.Config) -> str | None:
    """The scratch folder of this xdist worker's run; None outside xdist workers."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    value = workerinput.get(WORKER_KEY)
    return value if isinstance(value, str) else None


def parse_once(scratch: str, parse: Callable[[], DagFolder]) -> DagFolder:
    """``parse()`` in the first worker to get here; the facts it wrote in the others."""
    from windvane.testing.integrity import DagFolder
    from windvane.testing.integrity.facts import FileFacts

    data = Path(scratch) / "facts.json"
    with open(Path(scratch) / "facts.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if data.exists():
            raw = json.loads(data.read_text(encoding="utf-8"))
            facts = {path: FileFacts.decode(text.encode()) for path, text in raw["facts"].items()}
            return DagFolder(raw["folder"], facts)
        folder = parse()
        text = json.dumps(
            {"folder": folder.folder, "facts": {p: f.encode().decode() for p, f in folder.facts.items()}}
        )
        partial = data.with_suffix(".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, data)
        return folder
