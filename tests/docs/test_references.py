"""Commands and options the pages name exist: a renamed option cannot leave a page behind.

Every ``windvane COMMAND [SUBCOMMAND] --option`` written in a page (in a code span or a
block) must be a command of the parser with that option; every ``--windvane-*`` option a
page names must be one of the pytest plugin's.
"""

from __future__ import annotations

import argparse
import re

import pytest

from tests.docs.shell import REPO
from tests.docs.test_pages import PAGES
from windvane.cli.main import build_parser
from windvane.settings import load_settings
from windvane.testing import plugin_extras
from windvane.testing.plugin import options as plugin

#: Bracketed names that are not Windvane settings: pytest's ini section, the alert subject tag.
_NOT_SETTINGS = {"pytest", "windvane"}
_OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def _command_lines() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text()
        name = str(page.relative_to(REPO))
        found += [(name, span) for span in re.findall(r"`(windvane [^`\n]+)`", text)]
        found += [
            (name, line.removeprefix("$ "))
            for line in text.splitlines()
            if line.startswith(("windvane ", "$ windvane "))
        ]
    return found


def test_every_windvane_command_and_option_a_page_names_exists() -> None:
    root = build_parser()
    commands, global_options = _subcommands(root), _options(root)
    wrong = []
    for page, line in _command_lines():
        command = line.split("#")[0]
        words = command.split()
        if len(words) < 2 or not re.fullmatch(r"[a-z][a-z-]*", words[1]):
            continue
        if words[1] not in commands:
            wrong.append(f"{page}: `{line}`: no command {words[1]!r}")
            continue
        parser = commands[words[1]]
        subcommands = _subcommands(parser)
        if subcommands and len(words) > 2 and re.fullmatch(r"[a-z][a-z-]*", words[2]):
            if words[2] not in subcommands:
                wrong.append(f"{page}: `{line}`: no command 'windvane {words[1]} {words[2]}'")
                continue
            parser = subcommands[words[2]]
        known = _options(parser) | global_options
        wrong += [f"{page}: `{line}`: no option {o}" for o in _OPTION.findall(command) if o not in known]
    assert not wrong, "\n".join(wrong)


def test_every_pytest_plugin_option_a_page_names_exists() -> None:
    named = {flag for page in PAGES for flag in re.findall(r"--windvane-[a-z-]+", page.read_text())}
    assert named, "the pages name the plugin's options"
    parser = pytest.Parser(_ispytest=True)
    plugin.add_options(parser)
    plugin_extras.pytest_addoption(parser)
    flags = {name for option in parser.getgroup("windvane").options for name in option.names()}
    assert named <= flags, f"the pytest plugin has no option {', '.join(sorted(named - flags))}"


def test_every_setting_a_page_names_exists() -> None:
    known = {
        (section, key)
        for section, key, _value, _source in load_settings(home=REPO / "no-home", environ={}).as_rows()
    }
    sections = {section for section, _ in known}
    wrong = []
    for page in PAGES:
        text = page.read_text()
        named = re.findall(r"`\[([a-z_]+)\] ([a-z_]+)", text)
        named += [
            (s.lower(), k.lower()) for s, k in re.findall(r"WINDVANE__([A-Z_]+?)__([A-Z][A-Z_]*)\b", text)
        ]
        wrong += [
            f"{page.name}: [{s}] {k}" for s, k in named if (s, k) not in known and s not in _NOT_SETTINGS
        ]
        wrong += [
            f"{page.name}: [{s}]"
            for s in re.findall(r"`\[([a-z_]+)\]`", text)
            if s not in sections | {"pytest"}
        ]
    assert not wrong, "settings that do not exist:\n" + "\n".join(sorted(set(wrong)))
