"""What every command shares: the parser class, the global options and the handler contract.

A command module registers its sub-commands with :func:`add_command`, which
adds the global options (``--home``, ``--verbose``) to the leaf parser too,
so ``windvane dags list --verbose`` works as well as ``windvane --verbose dags
list``. Each leaf parser carries its handler, ``handler(cli, args) -> exit code``,
as a reference ``"module:function"`` that :func:`resolve_handler` imports only
when that command runs: building the parser imports no command's dependencies
(SQLAlchemy, rich, the metrics backends), so ``--help`` and ``--version`` are fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeAlias

if TYPE_CHECKING:
    from windvane.cli.output import Output
    from windvane.settings import Settings

#: Exit codes: 0 success, 1 operational failure, 2 usage error.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A command line that cannot be acted on (exit code 2); the message names the argument."""


@dataclass(frozen=True)
class Cli:
    """What a handler gets besides its arguments: the settings (read once) and the output."""

    settings: Settings
    out: Output
    verbose: bool = False


Handler: TypeAlias = Callable[[Cli, argparse.Namespace], int]
#: ``"windvane.cli.dags:_show"``: the module and function of a handler, imported when it runs.
HandlerRef: TypeAlias = str
Subparsers: TypeAlias = "argparse._SubParsersAction[CliParser]"


class CliParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """``--home`` and ``--verbose``; with ``suppress`` they do not overwrite values given earlier."""
    parser.add_argument(
        "--home",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS if suppress else None,
        help="Windvane home: holds windvane.toml, the SQLite database and logs "
        "(overrides WINDVANE_HOME; default ~/windvane).",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="Show tracebacks of errors and debug logs.",
    )


def _common_parent() -> CliParser:
    parent = CliParser(add_help=False)
    add_global_options(parent, suppress=True)
    return parent


_COMMON = _common_parent()


def add_group(subparsers: Subparsers, name: str, help: str, description: str | None = None) -> Subparsers:
    """A command group (``dags``, ``tasks``, ...); returns its sub-command parsers."""
    parser = subparsers.add_parser(name, help=help, description=description or help, parents=[_COMMON])
    children = parser.add_subparsers(title="commands", dest=f"{name}_command", metavar="COMMAND")
    children.required = True
    return children


def add_command(
    subparsers: Subparsers,
    name: str,
    handler: HandlerRef,
    help: str,
    description: str | None = None,
    *,
    user_code: bool = True,
) -> CliParser:
    """A leaf command running ``handler`` (``"module:function"``); returns its parser to add arguments to.

    ``user_code=False`` declares that the command never imports a DAG file nor runs a task in its
    process: :func:`windvane.cli.main.main` then skips installing the authoring defaults and the
    secrets backends (and their imports) before calling it. Only for read-only listings.
    """
    parser = subparsers.add_parser(
        name,
        help=help,
        description=description or help,
        parents=[_COMMON],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler, user_code=user_code)
    return parser


def resolve_handler(ref: HandlerRef) -> Handler:
    """Import the handler ``ref`` names (``"windvane.cli.dags:_show"``)."""
    module, _, name = ref.partition(":")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """``-o/--output table|json|plain``."""
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "json", "plain"),
        default="table",
        help="Output format: a table (default), JSON, or tab-separated plain text.",
    )


def confirm(question: str, *, yes: bool, what: str) -> bool:
    """True if the user agrees (or ``yes`` was given).

    On a terminal the user is asked; without one and without ``--yes`` this
    refuses with a :class:`UsageError` naming ``what`` would have been done.
    """
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {what} without confirmation: pass --yes (stdin is not a terminal)")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")
