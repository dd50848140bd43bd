"""Fenced code blocks of a Markdown page and the ``<!-- docs: ... -->`` directives above them.

A directive is an HTML comment on the lines right above a fence (invisible on GitHub):

- ``<!-- docs: skip REASON -->``: the block is not run; the reason is required and says why.
- ``<!-- docs: setup COMMAND -->``: a shell command run (unshown) before the block, for state the
  page takes for granted (its reader's project); keep these rare.
- ``<!-- docs: until REGEX -->``: the block's last command is a service that runs until stopped; it
  runs until its output matches REGEX (the sign it works), then gets Ctrl-C (SIGINT) and must exit 0.
- ``<!-- docs: file PATH -->``: the block (any language) is a file the reader saves: it is written to
  PATH in the working directory, not run.
- ``<!-- docs: exit N -->``: the last command of a console transcript exits N (a failing check shown
  on purpose); every other command must exit 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: Fence languages whose blocks are shell: ``bash``/``sh``/``shell`` are scripts, ``console`` a transcript.
SCRIPT_LANGUAGES = frozenset({"bash", "sh", "shell"})
TRANSCRIPT_LANGUAGES = frozenset({"console"})
SHELL_LANGUAGES = SCRIPT_LANGUAGES | TRANSCRIPT_LANGUAGES

_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M)
_DIRECTIVE = re.compile(r"^<!--\s*docs:\s*(?P<verb>\w+)\s*(?P<arg>.*?)\s*-->\s*$")
_VERBS = frozenset({"skip", "setup", "until", "file", "exit"})


class DirectiveError(ValueError):
    """A ``<!-- docs: -->`` comment the harness does not understand (names the page and line)."""


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and the directives above it."""

    page: str
    line: int
    lang: str
    body: str
    skip: str | None = None
    setup: tuple[str, ...] = field(default=())
    until: str | None = None
    file: str | None = None
    exit: int = 0

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def is_shell(self) -> bool:
        return self.lang in SHELL_LANGUAGES


def blocks(path: Path, *, name: str | None = None) -> list[Block]:
    """Every fenced block of ``path`` in page order, with its directives."""
    text = path.read_text()
    page = name or path.name
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        directives = _directives_above(text[: match.start()].splitlines(), f"{page}:{line}")
        skip = next((arg for verb, arg in directives if verb == "skip"), None)
        until = next((arg for verb, arg in directives if verb == "until"), None)
        setup = tuple(arg for verb, arg in directives if verb == "setup")
        file = next((arg for verb, arg in directives if verb == "file"), None)
        code = next((arg for verb, arg in directives if verb == "exit"), "0")
        if not code.isdigit():
            raise DirectiveError(f"{page}:{line}: '<!-- docs: exit {code} -->' needs an exit code")
        found.append(Block(page, line, match["lang"], match["body"], skip, setup, until, file, int(code)))
    return found


def _directives_above(lines: list[str], where: str) -> list[tuple[str, str]]:
    directives: list[tuple[str, str]] = []
    for raw in reversed(lines):
        if not raw.strip().startswith("<!--"):
            break
        match = _DIRECTIVE.match(raw.strip())
        if match is None:
            break  # another kind of comment (a generated-section marker): not ours
        verb, arg = match["verb"], match["arg"]
        if verb not in _VERBS:
            raise DirectiveError(f"{where}: unknown directive {verb!r} (known: {', '.join(sorted(_VERBS))})")
        if not arg:
            raise DirectiveError(f"{where}: '<!-- docs: {verb} -->' needs an argument (skip: say why)")
        directives.append((verb, arg))
    return list(reversed(directives))
