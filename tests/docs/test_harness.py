"""The docs harness itself: how pages are read, how shown output is compared, how a session carries state."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.docs.markdown import Block, DirectiveError, blocks
from tests.docs.matching import matches
from tests.docs.shell import DocsError, Session, transcript


@pytest.mark.parametrize(
    ("shown", "actual"),
    [
        ("Silence 1 ended.", "Silence 1 ended.\n"),
        ("a long line\nwrapped by the page", "a long line wrapped by the page"),
        ("until ... (recorded)", "until 2026-12-07T01:00:00+00:00 (recorded)"),
        ("id  state\n1   active", "┃ id ┃ state  ┃\n┡━━━━╇━━━━━━━━┩\n│ 1  │ active │"),
        ("...\nlast line\n...", "header\nmore\nlast line\nfooter"),
        ("", ""),
    ],
)
def test_output_that_fits_the_page(shown: str, actual: str) -> None:
    assert matches(shown, actual)


@pytest.mark.parametrize(
    ("shown", "actual"),
    [
        ("Silence 1 ended.", "Silence 3 ended."),
        ("until ... (recorded)", "until now"),
        ("exit 0", "exit 0 and more"),  # no ellipsis: nothing may follow
        ("a.b", "axb"),  # the page's text is literal, not a pattern
    ],
)
def test_output_that_does_not_fit_the_page(shown: str, actual: str) -> None:
    assert not matches(shown, actual)


def test_a_transcript_pairs_commands_with_their_output() -> None:
    body = "$ windvane db migrate\nDatabase ... is at revision ...\n$ true\n"
    assert transcript(body) == [("windvane db migrate", "Database ... is at revision ..."), ("true", "")]
    with pytest.raises(ValueError, match="output before the first"):
        transcript("orphan\n$ true\n")


def _page(tmp_path: Path, text: str) -> list[Block]:
    page = tmp_path / "page.md"
    page.write_text(text)
    return blocks(page)


def test_directives_above_a_fence_belong_to_it(tmp_path: Path) -> None:
    found = _page(
        tmp_path,
        "Text\n<!-- docs: setup touch x -->\n<!-- docs: until ready -->\n```bash\nserve\n```\n\n"
        "<!-- docs: skip needs a cloud account -->\n```sh\ncloud up\n```\n"
        "<!-- docs: file app.ini -->\n```ini\n[a]\n```\n<!-- docs: exit 1 -->\n```console\n$ false\n```\n",
    )
    assert [(b.lang, b.line, b.setup, b.until, b.skip, b.file, b.exit) for b in found] == [
        ("bash", 4, ("touch x",), "ready", None, None, 0),
        ("sh", 9, (), None, "needs a cloud account", None, 0),
        ("ini", 13, (), None, None, "app.ini", 0),
        ("console", 17, (), None, None, None, 1),
    ]


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        ("skip", "needs an argument"),
        ("later x", "unknown directive 'later'"),
        ("exit one", "needs an exit code"),
    ],
)
def test_a_bad_directive_names_the_page_and_line(tmp_path: Path, directive: str, message: str) -> None:
    with pytest.raises(DirectiveError, match=rf"page.md:3: .*{message}"):
        _page(tmp_path, f"Text\n<!-- docs: {directive} -->\n```bash\ntrue\n```\n")


def test_a_session_carries_exports_and_directories_from_block_to_block(tmp_path: Path) -> None:
    first, second, third = _page(
        tmp_path,
        "```bash\nexport GREETING=hi\nmkdir sub && cd sub\n```\n"
        '```console\n$ echo "$GREETING from $(basename "$PWD")"\nhi from sub\n```\n'
        '```bash\ntest ! -e ~/windvane && test "$WINDVANE_HOME" = ~/windvane\n```\n',
    )
    session = _session(tmp_path)
    session.run(first)
    session.run(second)
    session.run(third)  # a fresh home: nothing there yet


def test_a_failing_block_names_its_page_line_and_output(tmp_path: Path) -> None:
    (block,) = _page(tmp_path, "```bash\necho about to fail\nfalse\necho never\n```\n")
    with pytest.raises(DocsError, match=r"(?s)page.md:1: exit code 1 .*about to fail") as info:
        _session(tmp_path).run(block)
    assert "never" not in str(info.value).split("--- output ---")[1]


def test_a_service_runs_until_ready_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    body = "trap 'echo stopped; exit 0' INT; echo ready; while true; do sleep 0.1; done"
    (block,) = _page(tmp_path, f"<!-- docs: until ^ready$ -->\n```bash\n{body}\n```\n")
    _session(tmp_path).run(block)


def test_a_service_that_never_gets_ready_fails_naming_what_it_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tests.docs.shell.BLOCK_TIMEOUT", 0.5)
    (block,) = _page(tmp_path, "<!-- docs: until never -->\n```bash\nsleep 30\n```\n")
    with pytest.raises(DocsError, match=r"page.md:2: .*output matching 'never'"):
        _session(tmp_path).run(block)


def _session(tmp_path: Path) -> Session:
    root = tmp_path / "session"
    root.mkdir()
    return Session(root)


def test_ctrl_c_reaches_a_service_even_when_the_runner_ignores_it(tmp_path: Path) -> None:
    # A suite started in the background (``.ci/run &``, nohup) inherits SIGINT ignored; a shell
    # started so can never trap it, and the service above ran until its 30 s stop timeout.
    body = "trap 'echo stopped; exit 0' INT; echo ready; while true; do sleep 0.1; done"
    (block,) = _page(tmp_path, f"<!-- docs: until ^ready$ -->\n```bash\n{body}\n```\n")
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _session(tmp_path).run(block)
    finally:
        signal.signal(signal.SIGINT, previous)
