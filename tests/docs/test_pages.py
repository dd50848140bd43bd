"""README.md and docs/*.md stay true: their shell blocks run in order, in a fresh home, and show real output.

Each page is one reader (:class:`tests.docs.shell.Session`): its ``bash``/``sh`` blocks must exit
0, its ``console`` transcripts must print what the page shows (see :mod:`tests.docs.matching`), and
blocks that cannot run here carry ``<!-- docs: skip REASON -->`` (see :mod:`tests.docs.markdown`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.markdown import SCRIPT_LANGUAGES, Block, blocks
from tests.docs.shell import REPO, Session

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ALL = {page: blocks(page, name=str(page.relative_to(REPO))) for page in PAGES}
#: A block that is not fenced as shell but reads like a command line would escape the harness.
_LOOKS_LIKE_SHELL = re.compile(r"^(\$ |windvane |pytest |make |docker |export |cd )", re.M)


def runnable(page: Path) -> list[Block]:
    return [block for block in ALL[page] if (block.is_shell or block.file) and block.skip is None]


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if runnable(p)], ids=lambda p: p.name)
def test_every_shell_block_of_the_page_runs_in_order(page: Path, tmp_path: Path) -> None:
    session = Session(tmp_path)
    for block in runnable(page):
        session.run(block)


def test_commands_are_fenced_as_shell_so_that_they_run() -> None:
    unfenced = [
        f"{block.where} (```{block.lang or ''}): {match.group(0).strip()}..."
        for blocks_ in ALL.values()
        for block in blocks_
        if block.lang in {"", "text"} and (match := _LOOKS_LIKE_SHELL.search(block.body))
    ]
    assert not unfenced, "fence these as bash/console (or mark them skipped):\n" + "\n".join(unfenced)


def test_directives_fit_their_blocks() -> None:
    wrong = []
    for block in (b for blocks_ in ALL.values() for b in blocks_):
        if (block.skip or block.setup or block.until or block.exit) and not block.is_shell:
            wrong.append(f"{block.where}: a docs directive above a ```{block.lang} block, which never runs")
        if block.until and block.lang not in SCRIPT_LANGUAGES:
            wrong.append(f"{block.where}: 'until' needs a bash block whose last command is the service")
        if block.exit and block.lang != "console":
            wrong.append(f"{block.where}: 'exit' is for console transcripts (a script stops at a failure)")
        if block.lang == "console" and not block.body.startswith("$ "):
            wrong.append(f"{block.where}: a console block starts with a '$ ' command (output alone: ```text)")
    assert not wrong, "\n".join(wrong)


def test_some_blocks_run_and_every_skip_says_why() -> None:
    shell = [b for blocks_ in ALL.values() for b in blocks_ if b.is_shell]
    assert sum(b.skip is None for b in shell) >= 5
    assert all(b.skip is None or len(b.skip.split()) >= 3 for b in shell), [b.where for b in shell if b.skip]
