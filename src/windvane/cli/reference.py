"""The CLI reference page, generated from the parser: ``python -m windvane.cli.reference``.

``--write`` writes ``docs/cli-reference.md``; ``--check`` exits 1 when the
committed page differs from what the parser says (CI and
``tests/cli/test_reference.py`` run it), so the reference cannot drift: every
command, argument, default and help text on the page is the parser's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from windvane.cli.parser import build_parser
from windvane.cli.parser.walk import Command, commands

#: The page, relative to the repository root (the working directory of ``--write``/``--check``).
PAGE = Path("docs") / "cli-reference.md"
REGENERATE = "python -m windvane.cli.reference --write"
#: Options every command takes (``windvane.cli.base.add_global_options``): documented once, at the top.
_GLOBAL = ("home", "verbose")
_USAGE_WIDTH = 100

_HEADER = f"""\
<!-- Generated from the argument parser by `{REGENERATE}`: do not edit by hand.
     tests/cli/test_reference.py fails when this page and the parser disagree. -->
# `windvane` command reference

Every command, argument, default and help text, as `windvane ... --help` prints them.
[The `windvane` command](cli.md) explains exit codes, output formats and what the
commands are for. Every command also takes the global options `--home PATH` (the Windvane
home; overrides `WINDVANE_HOME`, default `~/windvane`) and `-v`/`--verbose` (tracebacks and
debug logs), before or after the command's name; `windvane --version` prints the version.
"""


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=_USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _argument(action: argparse.Action) -> str:
    if not action.option_strings:
        name = action.metavar or action.dest
        return f"`{name}`" + (" (optional)" if action.nargs == "?" else "")
    takes = action.nargs != 0
    metavar = action.metavar or (
        "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.dest.upper()
    )
    return ", ".join(f"`{s} {metavar}`" if takes else f"`{s}`" for s in action.option_strings)


def _default(action: argparse.Action) -> str:
    value = action.default
    if value in (None, False, argparse.SUPPRESS, (), []) or action.nargs == 0:
        return ""
    return f"`{value}`"


def _description(text: str) -> str:
    """Prose paragraphs as Markdown; a paragraph with indented lines (examples, lists) verbatim."""
    blocks = []
    for paragraph in text.strip().split("\n\n"):
        if any(line.startswith(" ") for line in paragraph.splitlines()):
            blocks.append("```text\n" + paragraph + "\n```")
        else:
            blocks.append(" ".join(paragraph.split()))
    return "\n\n".join(blocks)


def _section(command: Command) -> str:
    level = "#" * min(2 + max(len(command.path) - 1, 0), 4)  # windvane, dags: ##; dags list: ###
    lines = [f"{level} `{command.name}`", "", _description(command.parser.description or command.help), ""]
    lines += ["```text", _usage(command.parser), "```", ""]
    if command.subcommands:
        lines += ["| command | what it does |", "|---|---|"]
        lines += [
            f"| `{command.name} {name}` | {_cell(text)} |" for name, text in command.subcommands.items()
        ]
        lines.append("")
    arguments = [a for a in command.arguments if a.dest not in _GLOBAL and a.dest != "version"]
    if arguments and not command.subcommands:
        lines += ["| argument | default | description |", "|---|---|---|"]
        for action in arguments:
            help_text = "" if action.help == argparse.SUPPRESS else (action.help or "")
            if action.choices and not action.option_strings:
                help_text += f" One of: {', '.join(map(str, action.choices))}."
            if action.required and action.option_strings:
                help_text += " Required."
            lines.append(f"| {_argument(action)} | {_default(action)} | {_cell(help_text)} |")
        lines.append("")
    return "\n".join(lines)


def render() -> str:
    """The whole page."""
    sections = [_section(c) for c in commands(build_parser())]
    return _HEADER + "\n" + "\n".join(sections).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m windvane.cli.reference", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"Write {PAGE}.")
    mode.add_argument("--check", action="store_true", help=f"Exit 1 when {PAGE} is not what --write writes.")
    mode.add_argument("--print", action="store_true", help="Print the page.")
    args = parser.parse_args(argv)
    page = render()
    if args.print:
        sys.stdout.write(page)
    elif args.write:
        PAGE.write_text(page, encoding="utf-8")
        print(f"wrote {PAGE}")
    elif not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != page:
        print(f"{PAGE} is out of date with the parser: run '{REGENERATE}'", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
