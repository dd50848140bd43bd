"""Fake plug-ins: entry points handed to the injectable loaders, and a fake installed distribution."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from windvane.plugins import EntryPointLike


@dataclass(frozen=True)
class FakeEntryPoint:
    """An entry point whose ``load()`` returns ``target`` (or raises ``error``)."""

    name: str
    value: str
    target: Any = None
    error: Exception | None = None

    def load(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.target


class FakeLoader:
    """An :data:`~windvane.plugins.EntryPointLoader` that knows only ``groups``; counts its reads."""

    def __init__(self, groups: Mapping[str, Sequence[EntryPointLike]]) -> None:
        self.groups = groups
        self.reads: Counter[str] = Counter()

    def __call__(self, group: str) -> list[EntryPointLike]:
        self.reads[group] += 1
        return list(self.groups.get(group, ()))


def write_package(root: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (path relative to ``root`` -> source, dedented) under ``root``."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")


def write_distribution(root: Path, name: str, entry_points: Mapping[str, Mapping[str, str]]) -> None:
    """Make ``root`` hold a distribution ``name`` declaring ``entry_points`` (group -> name -> value).

    Put ``root`` on ``sys.path`` and :func:`importlib.metadata.entry_points` finds it.
    """
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    sections = [
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items())
        for group, entries in entry_points.items()
    ]
    (info / "entry_points.txt").write_text("\n".join(sections), encoding="utf-8")
