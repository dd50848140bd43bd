"""What the plugin prints: the header (folder, files, settings) and the slowest files to parse.

Parse times travel with each ``parse_time`` item's report (``user_properties``),
so the summary works under xdist too, where the controller parses nothing.
"""

from __future__ import annotations

import os

import pytest

from windvane.core.processor.discovery import list_dag_files
from windvane.testing.plugin.options import PluginSettings
from windvane.testing.plugin.state import settings_of

PARSE_TIMES_KEY = pytest.StashKey[dict[str, float]]()


def header_lines(config: pytest.Config) -> list[str]:
    settings = settings_of(config)
    if settings is None:
        return []
    files = len(list_dag_files(str(settings.folder)))
    shown = os.path.relpath(settings.folder, config.rootpath)
    lines = [
        f"windvane: DAG folder {shown} ({files} files), parse timeout {settings.parse.timeout:g} s, "
        f"budget {settings.policy.parse_budget:g} s, {settings.parse.parallelism} parsing processes"
    ]
    policy = _policy_text(settings)
    if policy:
        lines.append(f"windvane: policy {policy}")
    if settings.baseline is not None:
        lines.append(
            f"windvane: baseline {settings.baseline.source} ({len(settings.baseline.entries)} entries)"
        )
    return lines


def _policy_text(settings: PluginSettings) -> str:
    p = settings.policy
    parts = []
    if p.require_owner:
        parts.append("owner required")
    if p.min_retries:
        parts.append(f"retries >= {p.min_retries}")
    if p.required_tags:
        parts.append(f"required tags {', '.join(p.required_tags)}")
    if p.allowed_tags:
        parts.append(f"allowed tags {', '.join(p.allowed_tags)}")
    return "; ".join(parts)


class ParseTimeRecorder:
    """Keeps the parse time each ``parse_time`` item reported (in the controller under xdist)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == "parse_seconds":
                times = self.config.stash.setdefault(PARSE_TIMES_KEY, {})
                times[report.nodeid.rsplit("::", 1)[0]] = float(value)  # type: ignore[arg-type]


def write_slowest(terminal: pytest.TerminalReporter, config: pytest.Config) -> None:
    settings = settings_of(config)
    times = config.stash.get(PARSE_TIMES_KEY, {})
    if settings is None or not times or settings.slowest == 0:
        return
    slowest = sorted(times.items(), key=lambda item: (-item[1], item[0]))[: settings.slowest]
    terminal.section(f"slowest {len(slowest)} DAG files to parse (budget {settings.policy.parse_budget:g} s)")
    for path, seconds in slowest:
        over = "  OVER BUDGET" if seconds > settings.policy.parse_budget else ""
        terminal.write_line(f"{seconds:8.3f} s  {path}{over}")
