"""``dags backfill`` prints the count first and, above ``[cli] backfill_confirm_above`` runs,
asks on a terminal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from .conftest import RunCli


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def asking(home: Path, ready: RunCli) -> RunCli:
    """``ready`` with a backfill of more than 2 runs asking first."""
    with (home / "windvane.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n[cli]\nbackfill_confirm_above = 2\n")
    return ready


def _runs(run_cli: RunCli) -> dict[str, str]:
    return {
        r["run_id"]: r["state"] for r in json.loads(run_cli("dags", "list-runs", "chain", "-o", "json").out)
    }


def test_declining_queues_nothing_and_the_count_came_first(
    asking: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    result = asking("dags", "backfill", "chain", "-s", "2024-01-01", "-e", "2024-01-12")
    assert result.code == 1 and "Aborted: nothing was queued." in result.err
    count = result.out.index("Running 12 backfill run(s) of DAG chain (36 task instances):")
    assert count < result.out.index("Queue and run 12 backfill runs? [y/N]")
    assert "  ... and 2 more (--dry-run lists them all)" in result.out  # 10 listed
    assert _runs(asking) == {}


def test_accepting_runs_them(asking: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    result = asking("dags", "backfill", "chain", "-s", "2024-01-01", "-e", "2024-01-03")
    assert result.code == 0, result.out + result.err
    assert "Queue and run 3 backfill runs?" in result.out
    assert list(_runs(asking).values()) == ["success"] * 3


def test_yes_no_terminal_or_few_runs_do_not_ask(asking: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty stdin: input() would raise EOFError (exit 1) if anything asked.
    monkeypatch.setattr("sys.stdin", _Terminal(""))
    given_yes = asking("dags", "backfill", "chain", "-s", "2024-01-01", "-e", "2024-01-03", "--yes")
    assert given_yes.code == 0, given_yes.out + given_yes.err
    few = asking("dags", "backfill", "chain", "-s", "2024-01-04", "-e", "2024-01-05")
    assert few.code == 0, few.out + few.err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script: it chose its range
    scripted = asking("dags", "backfill", "chain", "-s", "2024-01-06", "-e", "2024-01-08")
    assert scripted.code == 0, scripted.out + scripted.err
    assert not any("[y/N]" in r.out for r in (given_yes, few, scripted))
    assert list(_runs(asking).values()) == ["success"] * 8


def test_dry_run_lists_every_run_and_never_asks(asking: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal(""))
    result = asking("dags", "backfill", "chain", "-s", "2024-01-01", "-e", "2024-01-12", "--dry-run")
    assert result.code == 0
    assert "Would run 12 backfill run(s) of DAG chain (36 task instances):" in result.out
    assert result.out.count(" (new)") == 12 and "[y/N]" not in result.out
