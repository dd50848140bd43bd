"""``windvane dags check``: the plugin's checks without pytest or a database, same verdicts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.testing_plugin.samples import BROKEN, EXPECTED_FAILURES, HEALTHY

from .conftest import RunCli


def test_check_fails_exactly_the_broken_checks(run_cli: RunCli) -> None:
    result = run_cli("dags", "check", str(BROKEN), "--format", "json")
    assert result.code == 1
    report = json.loads(result.out)
    failed = {c["id"]: c["message"] for c in report["checks"] if c["status"] == "failed"}
    assert sorted(failed) == sorted(EXPECTED_FAILURES)
    for check_id, fragment in EXPECTED_FAILURES.items():
        assert fragment in failed[check_id], check_id
    statuses = {c["id"]: c["status"] for c in report["checks"] if c["id"].startswith("healthy.py")}
    assert set(statuses.values()) == {"passed"} and len(statuses) == 7


def test_check_text_and_junit(run_cli: RunCli, tmp_path: Path) -> None:
    text = run_cli("dags", "check", str(BROKEN))
    assert text.code == 1
    assert "FAIL  cycle.py::cycle::cycles" in text.out and "10 failed" in text.out
    assert "RuntimeError" not in text.out and "integrity/child.py" not in text.out  # user frames only
    junit = tmp_path / "dags.xml"
    assert run_cli("dags", "check", str(BROKEN), "--format", "junit", "--output-file", str(junit)).code == 1
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert len(cases) == len(
        json.loads(run_cli("dags", "check", str(BROKEN), "--format", "json").out)["checks"]
    )
    failures = {
        f"{c.get('classname')}::{c.get('name')}".removeprefix(".::").replace(".::", "::"): c.find("failure")
        for c in cases
        if c.find("failure") is not None
    }
    assert len(failures) == len(EXPECTED_FAILURES)
    cycle = failures["cycle.py::cycle::cycles"]
    assert cycle is not None and cycle.get("message") == (
        "DAG 'cycle' has a dependency cycle: extract -> transform -> load -> extract"
    )


def test_check_passes_a_healthy_folder_without_a_database(run_cli: RunCli) -> None:
    result = run_cli("dags", "check", str(HEALTHY))
    assert result.code == 0, result.out
    assert "failed" not in result.out and "16 checks over 2 files" in result.out
    default = run_cli("dags", "check")  # core.dags_folder of the home: chain.py and failing.py
    assert default.code == 0 and "over 2 files" in default.out


def test_baseline_turns_known_failures_into_xfails_and_flags_stale_entries(
    run_cli: RunCli, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.txt"
    assert run_cli("dags", "check", str(BROKEN), "--write-baseline", str(baseline)).code == 0
    assert len([line for line in baseline.read_text().splitlines() if "::" in line]) == len(EXPECTED_FAILURES)
    adopted = run_cli("dags", "check", str(BROKEN), "--baseline", str(baseline))
    assert adopted.code == 0, adopted.out
    assert "10 xfailed" in adopted.out
    baseline.write_text(
        baseline.read_text() + "healthy.py::import  was broken last week\ngone.py::import  file removed\n"
    )
    stale = run_cli("dags", "check", str(BROKEN), "--baseline", str(baseline), "--format", "json")
    assert stale.code == 1
    bad = {c["id"]: c for c in json.loads(stale.out)["checks"] if c["status"] in ("failed", "xpassed")}
    assert bad["healthy.py::import"]["status"] == "xpassed"
    assert "passes now: remove the entry" in bad["healthy.py::import"]["message"]
    assert "gone.py::import" in bad["::baseline"]["message"]


def test_check_policy_and_usage_errors(run_cli: RunCli, tmp_path: Path) -> None:
    strict = run_cli("dags", "check", str(HEALTHY), "--min-retries", "2", "--required-tags", "sales")
    assert strict.code == 1
    assert "manual_report.py::manual_report::default_args" in strict.out
    assert "tasks retrying fewer than 2 times: build (1)" in strict.out
    assert "missing required tags: sales" in strict.out
    missing = run_cli("dags", "check", str(tmp_path / "nope"))
    assert missing.code == 2 and "does not exist" in missing.err
    bad = tmp_path / "bad.txt"
    bad.write_text("etl.py::import\n")
    assert "needs a reason" in run_cli("dags", "check", str(HEALTHY), "--baseline", str(bad)).err
