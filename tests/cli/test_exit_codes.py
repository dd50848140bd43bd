"""Exit codes: an unknown DAG, task or run id is an operational failure (1) on every command, with one
line naming it; a malformed command line is a usage error (2). Airflow does the same: its lookups raise
``DagNotFound``/``SystemExit("DAG: ... does not exist")``, exit 1, while argparse errors exit 2."""

from __future__ import annotations

from pathlib import Path

from .conftest import RunCli

RUN = "known_run"

#: (command, the id the error must name)
UNKNOWN_IDS: list[tuple[tuple[str, ...], str]] = [
    (("dags", "show", "nope"), "'nope'"),
    (("dags", "trigger", "nope"), "'nope'"),
    (("dags", "pause", "nope"), "'nope'"),
    (("dags", "unpause", "nope"), "'nope'"),
    (("dags", "list-runs", "nope"), "'nope'"),
    (("dags", "test", "nope"), "'nope'"),
    (("dags", "backfill", "nope", "-s", "2024-01-01", "-e", "2024-01-02"), "'nope'"),
    (("tasks", "list", "nope"), "'nope'"),
    (("tasks", "test", "nope", "a"), "'nope'"),
    (("tasks", "run", "nope", "a", RUN), "'nope'"),
    (("tasks", "clear", "nope", "--yes"), "'nope'"),
    (("tasks", "states-for-dag-run", "nope", RUN), "'nope'"),
    (("tasks", "logs", "nope", "a", RUN), "'nope'"),
    (("tasks", "test", "chain", "zzz"), "'zzz'"),
    (("tasks", "run", "chain", "zzz", RUN), "'zzz'"),
    (("tasks", "logs", "chain", "zzz", RUN), "'zzz'"),
    (("tasks", "clear", "chain", "-t", "zzz", "--yes"), "'zzz'"),
    (("tasks", "run", "chain", "a", "no_run"), "'no_run'"),
    (("tasks", "states-for-dag-run", "chain", "no_run"), "'no_run'"),
    (("tasks", "logs", "chain", "a", "no_run"), "'no_run'"),
    (("tasks", "clear", "chain", "-r", "no_run", "--yes"), "'no_run'"),
    (("dags", "state", "nope", RUN), "'nope'"),
    (("dags", "state", "chain", "no_run"), "'no_run'"),
    (("tasks", "state", "nope", "a", RUN), "'nope'"),
    (("tasks", "state", "chain", "zzz", RUN), "'zzz'"),
    (("tasks", "state", "chain", "a", "no_run"), "'no_run'"),
]


def test_every_command_exits_1_naming_the_unknown_id(ready: RunCli) -> None:
    assert ready("dags", "trigger", "chain", "--run-id", RUN).code == 0
    wrong = []
    for command, culprit in UNKNOWN_IDS:
        result = ready(*command)
        lines = result.err.splitlines()
        ok = result.code == 1 and lines and lines[-1].startswith("windvane: error: ") and culprit in lines[-1]
        if not ok:
            wrong.append(f"{' '.join(command)} -> {result.code}: {result.err!r}")
    assert not wrong, "\n".join(wrong)


def test_a_malformed_command_line_exits_2(ready: RunCli) -> None:
    for command in [
        ("dags", "trigger", "chain", "--conf", "{"),
        ("dags", "backfill", "chain", "-s", "2024-02-30", "-e", "2024-03-01"),
        ("tasks", "logs", "chain", "a", RUN, "--try", "0"),
        ("dags", "show"),
    ]:
        result = ready(*command)
        assert result.code == 2, (command, result.err)
        assert "error: argument" in result.err or "required" in result.err, (command, result.err)


def test_docs_give_unknown_ids_exit_code_1() -> None:
    text = " ".join((Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text().split())
    codes = text[text.index("Exit codes:") : text.index("130 interrupted")]
    one, two = codes.split(" 2 usage error")
    assert "unknown DAG, task or run id" in one
    assert "unknown DAG" not in two and "unknown option" in two
