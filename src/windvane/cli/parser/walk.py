"""Walk the ``windvane`` parser: every command with its arguments, for generated artefacts.

The shell completion scripts (:mod:`windvane.cli.completion`) and the CLI
reference page (:mod:`windvane.cli.reference`) are both generated from
:func:`commands`, so neither can list a command or option the parser lacks.
Relies on :mod:`argparse` internals (``_actions``, ``_SubParsersAction``,
``_choices_actions``) that have been stable since Python 3.2.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One parser of the tree: the root (``path == ()``), a group or a leaf command."""

    path: tuple[str, ...]
    parser: argparse.ArgumentParser
    help: str
    #: Sub-command name -> its one-line help (empty for a leaf).
    subcommands: dict[str, str]

    @property
    def name(self) -> str:
        return " ".join(("windvane", *self.path))

    @property
    def arguments(self) -> list[argparse.Action]:
        """Options and positionals, without ``--help`` and the sub-command slot."""
        return [
            a
            for a in self.parser._actions
            if not isinstance(a, argparse._SubParsersAction | argparse._HelpAction)
        ]

    @property
    def options(self) -> list[str]:
        """Every option string (``-o``, ``--output``, ``-h``, ``--help``)."""
        return [s for a in self.parser._actions for s in a.option_strings]

    @property
    def value_options(self) -> list[str]:
        """The option strings that take a value (the next word is not a command)."""
        takes = [a for a in self.parser._actions if a.option_strings and a.nargs != 0]
        return [s for a in takes for s in a.option_strings]


_Sub = argparse._SubParsersAction


def _subparsers(parser: argparse.ArgumentParser) -> _Sub[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = (), help: str = ""
) -> Iterator[Command]:
    """``parser`` and every parser below it, depth first, sub-commands in registration order."""
    sub = _subparsers(parser)
    helps = {a.dest: a.help or "" for a in sub._choices_actions} if sub else {}
    yield Command(path, parser, help or parser.description or "", helps)
    if sub is not None:
        for name, child in sub.choices.items():
            yield from commands(child, (*path, name), helps.get(name, ""))
