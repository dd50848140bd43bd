"""The schema of all config keys, derived from the section dataclasses."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from windvane.settings._kinds import Check, Kind, Resolver, kind_for
from windvane.settings._sections import Settings

ENV_PREFIX = "WINDVANE__"
_SUGGEST_CUTOFF = 0.7


@dataclass(frozen=True)
class KeySpec:
    """Everything known about one config key."""

    section: str
    name: str
    kind: Kind
    default: object
    help: str
    check: Check | None
    resolve_hook: Resolver | None

    @property
    def dotted(self) -> str:
        """``"section.key"``."""
        return f"{self.section}.{self.name}"

    @property
    def env_var(self) -> str:
        """``WINDVANE__SECTION__KEY``."""
        return f"{ENV_PREFIX}{self.section.upper()}__{self.name.upper()}"

    @property
    def expected(self) -> str:
        """What a valid value looks like: ``"an integer >= 1"``."""
        phrase = self.kind.phrase
        return self.check.expected(phrase) if self.check else phrase

    def parse(self, raw: object) -> object:
        """Parse and check ``raw``; raise :class:`ValueError` if it is not valid."""
        value = self.kind.parse(raw)
        if self.check is not None and not self.check.accepts(value):
            raise ValueError("out of range")
        return value

    def resolve(self, value: Any, home: Path) -> Any:
        """Finish a parsed value against ``home``."""
        value = self.kind.resolve(value, home)
        return self.resolve_hook(value, home) if self.resolve_hook else value


@dataclass(frozen=True)
class Schema:
    """The sections (in ``Settings`` order) and their keys (in class order)."""

    section_types: dict[str, type[Any]]
    keys: dict[str, dict[str, KeySpec]]

    def find(self, section: str, key: str) -> KeySpec | None:
        """The spec of ``section.key``, or ``None``."""
        return self.keys.get(section, {}).get(key)

    def all_keys(self) -> list[KeySpec]:
        """Every key, sections in order."""
        return [spec for section in self.keys.values() for spec in section.values()]

    def suggest(self, section: str | None, key: str | None) -> str | None:
        """The known ``section.key`` (or section, when ``key`` is None) closest to a typo."""
        if key is None:
            if section is None:
                return None
            matches = difflib.get_close_matches(section, list(self.keys), n=1, cutoff=0.6)
            return matches[0] if matches else None
        best: tuple[float, str] | None = None
        typed = f"{section}.{key}" if section else key
        for spec in self.all_keys():
            score = max(
                _ratio(key, spec.name) + (0.05 if spec.section == section else 0.0),
                _ratio(typed, spec.dotted),
            )
            if best is None or score > best[0]:
                best = (score, spec.dotted)
        return best[1] if best and best[0] >= _SUGGEST_CUTOFF else None


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


@functools.cache
def schema() -> Schema:
    """Build (once) the schema from :class:`Settings` and its section classes."""
    section_types: dict[str, type[Any]] = {}
    keys: dict[str, dict[str, KeySpec]] = {}
    for name, annotation in typing.get_type_hints(Settings).items():
        if not (isinstance(annotation, type) and dataclasses.is_dataclass(annotation)):
            continue
        section_types[name] = annotation
        hints = typing.get_type_hints(annotation)
        keys[name] = {
            f.name: KeySpec(
                section=name,
                name=f.name,
                kind=kind_for(hints[f.name]),
                default=f.default,
                help=f.metadata.get("help", ""),
                check=f.metadata.get("check"),
                resolve_hook=f.metadata.get("resolve"),
            )
            for f in dataclasses.fields(annotation)
        }
    return Schema(section_types, keys)
