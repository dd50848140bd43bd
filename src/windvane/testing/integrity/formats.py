"""Renderings of a check run for people and for CI systems: text, JSON and JUnit XML.

JUnit has one ``testcase`` per check (``classname`` the file, ``name`` the
rest of the id), a ``failure`` whose ``message`` is the first line of the
verdict and whose text is all of it; baseline-expected failures are
``skipped`` with the reason, as pytest's JUnit report shows xfails.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence

from windvane.testing.integrity.run import CheckResult, headline

_MARKS = {"passed": "ok", "failed": "FAIL", "skipped": "skip", "xfailed": "xfail", "xpassed": "XPASS"}


def counts(results: Sequence[CheckResult]) -> dict[str, int]:
    tally = Counter(r.status for r in results)
    return {status: tally[status] for status in _MARKS if tally[status]}


def summary_line(results: Sequence[CheckResult], files: int, seconds: float) -> str:
    parts = ", ".join(f"{n} {status}" for status, n in counts(results).items()) or "no checks"
    return f"{len(results)} checks over {files} files in {seconds:.2f} s: {parts}"


def to_text(results: Sequence[CheckResult], *, verbose: bool = False) -> str:
    """Failures in full (indented), the rest one line each when ``verbose``."""
    lines: list[str] = []
    for r in results:
        if r.is_failure:
            lines.append(f"{_MARKS[r.status]:5} {r.check_id}")
            lines += [f"      {line}" for line in r.message.rstrip().splitlines()]
        elif verbose or r.status == "xfailed":
            extra = f"  ({r.reason})" if r.status == "xfailed" else ""
            lines.append(f"{_MARKS[r.status]:5} {r.check_id}{extra}")
    return "\n".join(lines)


def to_json(results: Sequence[CheckResult], folder: str) -> str:
    return json.dumps(
        {
            "folder": folder,
            "counts": counts(results),
            "failed": sum(r.is_failure for r in results),
            "checks": [
                {"id": r.check_id, "status": r.status, "message": r.message, "reason": r.reason}
                for r in results
            ],
        },
        indent=2,
    )


def _split(check_id: str) -> tuple[str, str]:
    file, _, rest = check_id.partition("::")
    return file or ".", rest


def to_junit(results: Sequence[CheckResult], *, suite: str = "windvane.dags", seconds: float = 0.0) -> str:
    tally = Counter(r.status for r in results)
    root = ET.Element("testsuites")
    element = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(tally["failed"] + tally["xpassed"]),
        errors="0",
        skipped=str(tally["skipped"] + tally["xfailed"]),
        time=f"{seconds:.3f}",
    )
    for r in results:
        classname, name = _split(r.check_id)
        case = ET.SubElement(element, "testcase", classname=classname, name=name, time="0")
        if r.is_failure:
            first = headline(r.message) or r.status
            failure = ET.SubElement(case, "failure", message=first)
            failure.text = r.message
        elif r.status in ("skipped", "xfailed"):
            ET.SubElement(case, "skipped", message=r.reason or r.message or r.status)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
