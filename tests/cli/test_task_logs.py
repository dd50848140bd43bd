"""What a try leaves in its log and on the console: each line once, and lines that stay lines."""

from __future__ import annotations

from pathlib import Path

from windvane.core.worker.task_log import append_line

from .conftest import RunCli

RUN_ID = "manual__2024-02-01T00:00:00+00:00"


def test_bash_output_is_in_the_log_once(ready: RunCli, home: Path) -> None:
    assert ready("dags", "trigger", "chain", "--logical-date", "2024-02-01").code == 0
    ran = ready("tasks", "run", "chain", "a", RUN_ID)
    assert ran.code == 0, ran.out + ran.err
    log = home / "logs" / "dag_id=chain" / f"run_id={RUN_ID}" / "task_id=a" / "attempt=1.log"
    lines = [line for line in log.read_text().splitlines() if line.endswith("hello-from-a")]
    assert len(lines) == 1 and lines[0].endswith("INFO windvane.task: hello-from-a"), lines


def test_marker_line_starts_on_its_own_line_after_output_without_newline(tmp_path: Path) -> None:
    log = tmp_path / "attempt=1.log"
    log.write_bytes(b"*** header\npartial output")  # a try killed in the middle of a line
    append_line(str(log), "Task timed out")
    append_line(str(log), "second")
    expected = ["*** header", "partial output", "*** Task timed out", "*** second"]
    assert log.read_text().splitlines() == expected
    empty = tmp_path / "empty.log"
    empty.touch()
    append_line(str(empty), "first")
    assert empty.read_text() == "*** first\n"


def test_tasks_logs_ends_with_a_newline(ready: RunCli, home: Path) -> None:
    folder = home / "logs" / "dag_id=chain" / f"run_id={RUN_ID}" / "task_id=a"
    folder.mkdir(parents=True)
    (folder / "attempt=1.log").write_text("*** header\nno newline at the end", encoding="utf-8")
    result = ready("tasks", "logs", "chain", "a", RUN_ID)
    assert result.code == 0
    assert result.out == "*** header\nno newline at the end\n"


def test_failing_tasks_test_prints_its_traceback_once(run_cli: RunCli) -> None:
    result = run_cli("tasks", "test", "failing", "boom")
    assert result.code == 1
    both = result.out + result.err
    assert both.count("Traceback (most recent call last)") == 1, both
    assert both.count('raise ValueError("kaboom")') == 1
    assert "  error: ValueError: kaboom" in result.out  # the summary on stdout, the traceback in the log
