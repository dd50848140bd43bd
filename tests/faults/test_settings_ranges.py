"""Defect 8: numeric settings have upper bounds, so a value that passes the checks cannot crash a
process later (``health_check_threshold_seconds=1e308`` made the scheduler exit with OverflowError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from windvane.errors import ConfigError
from windvane.settings import load_settings
from windvane.settings._kinds import FloatKind, IntKind
from windvane.settings._schema import schema


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("scheduler", "health_check_threshold_seconds"),
        ("scheduler", "task_heartbeat_timeout_seconds"),
        ("scheduler", "idle_sleep_seconds"),
        ("core", "parallelism"),
    ],
)
def test_huge_values_are_refused_naming_the_key_and_range(tmp_path: Path, section: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"{section}\.{key}.*(at most|between)"):
        huge = 1e308 if "seconds" in key else 10**12
        load_settings(home=tmp_path, environ={}, overrides={section: {key: huge}})


def test_every_numeric_setting_has_a_finite_upper_bound() -> None:
    unbounded = [
        spec.dotted
        for specs in schema().keys.values()
        for spec in specs.values()
        if isinstance(spec.kind, IntKind | FloatKind) and getattr(spec.check, "high", None) is None
    ]
    assert unbounded == []


def test_the_upper_bounds_keep_the_scheduler_arithmetic_in_range(tmp_path: Path) -> None:
    """The largest accepted values still subtract from today's date and add to a monotonic clock."""
    import pendulum

    now = pendulum.now("UTC")
    for specs in schema().keys.values():
        for spec in specs.values():
            high = getattr(spec.check, "high", None)
            if high is not None and spec.name.endswith("_seconds"):
                now.subtract(seconds=high)
                now.add(seconds=high)
