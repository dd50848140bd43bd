"""One pytest item per check: it judges through :func:`windvane.testing.integrity.run.evaluate`.

A failure shows the check's own message (the user's trimmed traceback, the
cycle path, both files of a duplicate dag_id), never the plugin's internals;
JUnit gets one row per item with that message. A check listed in the baseline
is an xfail with its reason when it fails, and fails when it passes ("remove
the entry").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from windvane.testing.integrity.run import CheckSpec, evaluate, headline
from windvane.testing.plugin.state import KNOWN_IDS_KEY, dagbag_for, settings_of


class CheckFailed(Exception):
    """A DAG check failed; the message is all a reader needs."""


def is_traceback(message: str) -> bool:
    return message.startswith(("Traceback", '  File "'))


class CheckItem(pytest.Item):
    """One integrity check of a file, of a DAG, or of the whole folder."""

    def __init__(self, *, spec: CheckSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.add_marker(pytest.mark.windvane)

    def runtest(self) -> None:
        settings = settings_of(self.config)
        assert settings is not None  # items exist only when the plugin is active
        folder = dagbag_for(self.config)
        known = self.config.stash.get(KNOWN_IDS_KEY, [])
        verdict = evaluate(self.spec, folder, settings.policy, settings.baseline, known)
        reason = settings.baseline.reason(self.spec.check_id) if settings.baseline else None
        if reason is not None:
            if verdict.failed:
                pytest.xfail(f"baseline: {reason}")
            raise CheckFailed(
                f"{self.spec.check_id} is listed in the baseline ({reason}) but passes now: "
                f"remove its line from {settings.baseline.source if settings.baseline else 'the baseline'}"
            )
        if verdict.failed:
            raise CheckFailed(verdict.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            message = str(excinfo.value)
            first = headline(message)
            # The summary line (-ra, JUnit message) shows the first line: put the headline there.
            return f"{first}\n\n{message}" if is_traceback(message) else message
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        path = Path(self.spec.path) if self.spec.path else self.path
        return path, max(self.spec.line - 1, 0), f"windvane: {self.spec.check_id}"
