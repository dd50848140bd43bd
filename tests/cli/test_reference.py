"""docs/cli-reference.md is what the parser says (``python -m windvane.cli.reference --write``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from windvane.cli import reference
from windvane.cli.main import build_parser
from windvane.cli.parser.walk import commands

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_generated_from_the_parser() -> None:
    committed = (ROOT / reference.PAGE).read_text(encoding="utf-8")
    assert committed == reference.render(), f"run '{reference.REGENERATE}' and commit docs/cli-reference.md"


def test_every_command_and_option_is_on_the_page() -> None:
    page = reference.render()
    for command in commands(build_parser()):
        assert f"`{command.name}`" in page
        for action in command.arguments:
            for option in action.option_strings:
                assert option in page, (command.name, option)


def test_check_fails_on_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    assert reference.main(["--check"]) == 1  # no page at all
    assert reference.main(["--write"]) == 0
    assert reference.main(["--check"]) == 0
    page = tmp_path / reference.PAGE
    page.write_text(page.read_text().replace("--dry-run", "--dryrun", 1))
    assert reference.main(["--check"]) == 1
