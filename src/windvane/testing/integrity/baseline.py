"""The baseline file: checks known to fail, with reasons, so a team can adopt the checks and ratchet down.

One entry per line: a check id relative to the DAG folder, whitespace, the
reason (required). Blank lines and ``#`` comments are skipped::

    # known-broken DAGs; remove a line when its check passes
    legacy/old_etl.py::import          needs the vendor SDK 2 upgrade (OPS-123)
    reports.py::daily_report::cycles   being untangled in PR 881
    ::unique_dag_ids                   two copies of "sync" until the move finishes

A listed check that fails is expected (pytest: xfail with the reason). A
listed check that passes is *reported as a failure* (pytest: strict xfail,
``XPASS(strict)``), and so is an entry naming no check at all: warnings are
ignored in CI, and a stale entry would hide the next breakage of that check.
``windvane dags check --write-baseline FILE`` writes one for the current failures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from windvane.errors import WindvaneError


class BaselineError(WindvaneError, ValueError):
    """The baseline file cannot be read (names the file and line)."""


@dataclass(frozen=True)
class Baseline:
    """``entries``: check id -> reason; ``source``: the file it came from."""

    entries: dict[str, str]
    source: str = ""

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise BaselineError(f"cannot read the baseline file {path}: {exc.strerror or exc}") from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, source: str = "<baseline>") -> Baseline:
        entries: dict[str, str] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            check_id, _, reason = line.partition(" ")
            reason = reason.strip()
            if "::" not in check_id:
                raise BaselineError(
                    f"{source}:{number}: {check_id!r} is not a check id (like 'etl.py::import')"
                )
            if not reason:
                raise BaselineError(f"{source}:{number}: {check_id} needs a reason after the id")
            if check_id in entries:
                raise BaselineError(f"{source}:{number}: {check_id} is listed twice")
            entries[check_id] = reason
        return cls(entries, source)

    def reason(self, check_id: str) -> str | None:
        return self.entries.get(check_id)

    def unknown(self, known_ids: Iterable[str]) -> list[str]:
        """Entries naming no check among ``known_ids`` (the file or DAG is gone, or was renamed)."""
        known = set(known_ids)
        return sorted(e for e in self.entries if e not in known)

    @staticmethod
    def render(failures: dict[str, str]) -> str:
        """A baseline file listing ``failures`` (check id -> reason)."""
        width = max((len(k) for k in failures), default=0)
        lines = ["# Windvane DAG checks known to fail. Remove a line once its check passes."]
        lines += [f"{check_id:<{width}}  {reason}" for check_id, reason in sorted(failures.items())]
        return "\n".join(lines) + "\n"
