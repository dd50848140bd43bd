"""The pytest plugin, run for real with ``pytester`` over the sample DAG folders."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest

from tests.testing_plugin.samples import BROKEN, EXPECTED_FAILURES, HEALTHY

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _copy(pytester: pytest.Pytester, name: str, source: object = BROKEN) -> None:
    shutil.copytree(str(source), pytester.path / name)


def _junit_cases(pytester: pytest.Pytester) -> dict[str, ET.Element]:
    cases = ET.parse(pytester.path / "out.xml").getroot().findall(".//testcase")
    found: dict[str, ET.Element] = {}
    for case in cases:
        node = f"{case.get('classname', '').replace('.', '/')}::{case.get('name')}"
        assert node not in found, f"two JUnit rows for {node}"
        found[node] = case
    return found


def test_one_failing_item_per_broken_file_and_readable_junit(pytester: pytest.Pytester) -> None:
    _copy(pytester, "dags")
    result = pytester.runpytest_subprocess(
        "--windvane-dags=dags", "--junitxml=out.xml", "-rf", "-p", "no:randomly"
    )
    outcomes = result.parseoutcomes()
    assert (
        outcomes["failed"] == len(EXPECTED_FAILURES)
        and outcomes["passed"] == 49
        and outcomes["skipped"] == 12
    )
    failed = {
        line.split()[1].removeprefix("dags/").replace("dags::", "::")
        for line in result.outlines
        if line.startswith("FAILED ")
    }
    assert failed == set(EXPECTED_FAILURES)
    for check_id, fragment in EXPECTED_FAILURES.items():
        assert fragment in result.stdout.str(), check_id
    # Failures show the user's frames and the check's words, never the plugin's internals.
    assert "windvane/testing" not in result.stdout.str()
    assert "windvane: dags/cycle.py::cycle::cycles" in result.stdout.str() or "cycle.py::cycle::cycles" in (
        result.stdout.str()
    )
    result.stdout.fnmatch_lines(
        ["windvane: DAG folder dags (12 files), parse timeout 30 s*", "*slowest 10 DAG files*"]
    )
    cases = ET.parse(pytester.path / "out.xml").getroot().findall(".//testcase")
    assert len(cases) == 71  # one row per item
    messages = [c.find("failure").get("message") for c in cases if c.find("failure") is not None]  # type: ignore[union-attr]
    assert len(messages) == len(EXPECTED_FAILURES)
    assert "DAG 'cycle' has a dependency cycle: extract -> transform -> load -> extract" in messages
    assert any(m.startswith("windvane.errors.CronExpressionError: DAG 'bad_cron'") for m in messages)


def test_healthy_folder_passes_and_plugin_is_inert_without_a_folder(pytester: pytest.Pytester) -> None:
    _copy(pytester, "dags", HEALTHY)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    checked = pytester.runpytest("--windvane-dags=dags", "-p", "no:randomly", "-v")
    checked.assert_outcomes(passed=1 + 2 * 4 + 2 * 3 + 2)
    checked.stdout.fnmatch_lines(
        [
            "*dags/daily_sales.py::import PASSED*",
            "*dags/daily_sales.py::daily_sales::cycles PASSED*",
            "*dags::unique_dag_ids PASSED*",
            "*dags::cross_dag_targets PASSED*",
        ]
    )
    inert = pytester.runpytest("-p", "no:randomly")
    inert.assert_outcomes(passed=1)
    off = pytester.runpytest("-p", "no:windvane", "--windvane-dags=dags")
    assert off.ret == pytest.ExitCode.USAGE_ERROR


def test_options_have_ini_twins_and_are_validated(pytester: pytest.Pytester) -> None:
    _copy(pytester, "dags", HEALTHY)
    pytester.makeini(
        "[pytest]\nwindvane_dags = dags\nwindvane_min_retries = 2\nwindvane_required_tags =\n    sales\n"
    )
    result = pytester.runpytest("-p", "no:randomly", "-k", "default_args")
    result.assert_outcomes(passed=1, failed=1, deselected=16)
    result.stdout.fnmatch_lines(
        ["*windvane: policy retries >= 2; required tags sales*", "*missing required tags: sales*"]
    )
    for args, message in [
        (["--windvane-parse-timeout=soon"], "--windvane-parse-timeout: 'soon' is not a number"),
        (["--windvane-parse-budget=0"], "--windvane-parse-budget: must be > 0, got 0.0"),
        (["--windvane-dags=nowhere"], "--windvane-dags: */nowhere does not exist"),
        (["--windvane-secret-env=("], "--windvane-secret-env: '(' is not a regular expression*"),
    ]:
        bad = pytester.runpytest(*args)
        assert bad.ret == pytest.ExitCode.USAGE_ERROR
        bad.stderr.fnmatch_lines([f"*{message}*"])
    pytester.makeini("[pytest]\nwindvane_dags = dags\nwindvane_min_retries = many\n")
    pytester.runpytest().stderr.fnmatch_lines(["*ini windvane_min_retries: 'many' is not an integer*"])


def test_baseline_xfails_known_failures_and_fails_stale_entries(pytester: pytest.Pytester) -> None:
    _copy(pytester, "dags")
    lines = [f"{check_id}  known broken, ticket 1" for check_id in EXPECTED_FAILURES]
    (pytester.path / "baseline.txt").write_text("\n".join([*lines, "healthy.py::import  fixed already", ""]))
    result = pytester.runpytest("--windvane-dags=dags", "--windvane-baseline=baseline.txt", "-rfx")
    outcomes = result.parseoutcomes()
    assert outcomes["xfailed"] == len(EXPECTED_FAILURES) and outcomes["failed"] == 1
    result.stdout.fnmatch_lines(
        ["*healthy.py::import is listed in the baseline (fixed already) but passes now: remove its line*"]
    )
    result.stdout.fnmatch_lines(["*XFAIL*cycle.py::cycle::cycles*baseline: known broken, ticket 1*"])


def test_xdist_gives_the_same_verdicts_from_one_parse(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    _copy(pytester, "dags")
    log = pytester.path / "parses.log"
    (pytester.path / "dags" / "counted.py").write_text(
        (HEALTHY / "daily_sales.py").read_text().replace('"daily_sales"', '"counted"')
        + f"\nwith open({str(log)!r}, 'a') as _log:\n    _log.write('parsed\\n')\n"
    )
    result = pytester.runpytest_subprocess("--windvane-dags=dags", "-n", "2", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == len(EXPECTED_FAILURES) and outcomes["passed"] == 49 + 7
    result.stdout.fnmatch_lines(["*slowest 10 DAG files to parse*"])  # parse times reach the controller
    assert log.read_text() == "parsed\n"  # one parse for both workers


def test_hanging_and_crashing_files_fail_only_their_own_item(pytester: pytest.Pytester) -> None:
    dags = pytester.mkdir("dags")
    shutil.copy(HEALTHY / "daily_sales.py", dags / "daily_sales.py")
    (dags / "hangs.py").write_text("while True:\n    pass\n")
    (dags / "crashes.py").write_text("import os\nos._exit(3)\n")
    result = pytester.runpytest("--windvane-dags=dags", "--windvane-parse-timeout=1", "-p", "no:randomly")
    result.assert_outcomes(passed=4 + 3 + 2, failed=2, skipped=6)
    result.stdout.fnmatch_lines(
        [
            "*exited with code 3 before reporting*",
            "*parsing took longer than the parse timeout (1 s) and was stopped*",
        ]
    )


def test_dagbag_fixture_parses_once_and_gives_live_dags(pytester: pytest.Pytester) -> None:
    _copy(pytester, "dags")
    pytester.makepyfile(
        test_bag="""
        from windvane.testing.plugin import dagbag_for

        def test_bag(dagbag, pytestconfig):
            assert dagbag is dagbag_for(pytestconfig)  # the folder the items use: parsed once
            assert "healthy" in dagbag and dagbag["healthy"].task_ids == ["extract", "done"]
            assert any(path.endswith("syntax_error.py") for path in dagbag.import_errors)
            assert dagbag.serialized("healthy").tasks["extract"].downstream == ("done",)
            assert "cycle" not in dagbag.dags or dagbag.dags["cycle"].dag_id == "cycle"
            assert set(dagbag.durations) == set(dagbag.files)
        """
    )
    result = pytester.runpytest("--windvane-dags=dags", "test_bag.py", "-k", "test_bag", "-p", "no:randomly")
    result.assert_outcomes(passed=1, deselected=71)
