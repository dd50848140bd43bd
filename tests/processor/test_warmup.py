"""The processor's warm-up: its own DAG file parses cleanly and leaves no trace."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from windvane.core.processor import warmup
from windvane.core.processor.parse_child import parse_file


def test_the_sample_file_parses_without_an_error(tmp_path: Path) -> None:
    path = os.path.join(str(tmp_path), "sample.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(warmup.SAMPLE_FILE)
    saved = list(sys.path)
    try:
        outcome = parse_file(path)
    finally:
        sys.path[:] = saved
    assert outcome.error is None
    assert len(outcome.dags) == 1 and '"windvane_processor_warmup_file"' in outcome.dags[0]


def test_warming_up_leaves_no_path_module_or_file_behind() -> None:
    modules, path = set(sys.modules), list(sys.path)
    leftovers = set(os.listdir(tempfile.gettempdir()))
    warmup.warm_up()
    assert sys.path == path
    assert not {m for m in set(sys.modules) - modules if m.startswith("windvane_dagfile_")}
    made = {name for name in set(os.listdir(tempfile.gettempdir())) - leftovers}
    assert not {name for name in made if name.startswith("windvane-warmup-")}


def test_a_warm_up_file_that_fails_is_logged_not_raised_and_leaves_no_trace(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(warmup, "SAMPLE_FILE", "raise RuntimeError('broken warm-up')\n")
    modules, path = set(sys.modules), list(sys.path)
    with caplog.at_level("DEBUG", logger=warmup.__name__):
        warmup.warm_up()  # must not raise: warming is an optimisation
    assert "warm-up file failed" in caplog.text and "broken warm-up" in caplog.text
    assert sys.path == path
    assert not {m for m in set(sys.modules) - modules if m.startswith("windvane_dagfile_")}
