"""docs/metrics.md, compose/statsd-mapping.yml and README's settings block: fresh, and saying one
thing. What the mapping does with real traffic is in test_statsd_parity.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from windvane.metrics import catalogue as m
from windvane.metrics.__main__ import REGENERATE, SPLICED, main, stale
from windvane.metrics.docs import settings_toml
from windvane.metrics.mapping import render_mapping
from windvane.settings import MetricsSettings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {
    "dag_id": "etl_daily",
    "task_id": "grp.load",
    "pool": "default_pool",
    "executor": "local",
    "file": "team/etl.py",
    "channel": "slack",
    "version": "0.1.0",
    "service": "scheduler",
}


def test_generated_files_are_fresh() -> None:
    found = stale(ROOT)
    assert not found, f"{', '.join(found)} stale: run {REGENERATE}"


def test_check_mode_reports_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    begin, end, _ = SPLICED["README.md"]
    (tmp_path / "README.md").write_text(f"# Title\n{begin}old block\n{end}after\n")
    assert main(["--root", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "docs/metrics.md is stale: run python -m windvane.metrics" in err and "README.md is stale" in err
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--root", str(tmp_path), "--check"]) == 0
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith("# Title\n") and readme.endswith("after\n") and "old block" not in readme
    assert settings_toml() in readme


def test_readme_and_docs_show_the_same_settings_block_and_call_the_lists_regexes() -> None:
    block = settings_toml()
    assert block in (ROOT / "README.md").read_text() and block in (ROOT / "docs/metrics.md").read_text()
    assert "statsd_datadog_tags = true" in block
    for key in ("statsd_allow_list", "statsd_block_list"):
        help_text = next(f.metadata["help"] for f in dataclasses.fields(MetricsSettings) if f.name == key)
        assert help_text.startswith("Regular expressions") and "starts with" not in help_text


def test_docs_list_every_metric_with_both_names() -> None:
    text = (ROOT / "docs/metrics.md").read_text()
    for metric in m.CATALOGUE:
        assert f"`{metric.name}`" in text and f"`{metric.statsd}`" in text
    assert "## Series budget" in text and "statsd_on" in text and "prometheus_port" in text


def test_mapping_timers_are_histograms_with_the_native_buckets() -> None:
    text = render_mapping()
    block = text.split('name: "windvane_task_duration_seconds"')[1].split("- match:")[0]
    assert "observer_type: histogram" in block
    assert "buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400]" in block
    assert 'match: "windvane.dagrun.duration.success"' in text and "*" not in text
    assert "match_metric_type: observer" in text


def test_mapping_for_another_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mapping-prefix", "airflow"]) == 0
    out = capsys.readouterr().out
    assert 'match: "airflow.ti.finish"' in out and r'"^airflow\\.ti\\.finish\\.' in out
