"""``windvane config list | get``: the settings in effect and where each came from."""

from __future__ import annotations

import argparse

from windvane.cli.base import EXIT_OK, Cli, Subparsers, add_command, add_group, add_output_option
from windvane.errors import ConfigError
from windvane.settings import allowed_values, config_file, format_value, get_value, mask_secret


def register(commands: Subparsers) -> None:
    group = add_group(commands, "config", "Show the configuration in effect.")

    listing = add_command(
        group, "list", _list, "List every setting with its value and source (default, file, env, override).",
        "List every setting with its value and where it came from. Secrets (keys named\n"
        "like password/secret/token, and passwords in URLs) are shown as ***.",
    )  # fmt: skip
    listing.add_argument("--section", help="Only this section, e.g. scheduler.")
    add_output_option(listing)

    getter = add_command(group, "get", _get, "Print one setting's value (secrets masked unless --reveal).")
    getter.add_argument("key", metavar="SECTION.KEY", help="The setting, e.g. core.parallelism.")
    getter.add_argument("--reveal", action="store_true", help="Print secrets as they are.")


def _list(cli: Cli, args: argparse.Namespace) -> int:
    all_rows = cli.settings.as_rows(mask_secrets=True)
    sections = list(dict.fromkeys(section for section, _, _, _ in all_rows))
    if args.section is not None and args.section not in sections:
        raise ConfigError(f"unknown config section {args.section!r}; known sections: {', '.join(sections)}")
    rows = [
        {
            "section": section,
            "key": key,
            "value": value,
            "source": source,
            "allowed": allowed_values(section, key).removeprefix("an ").removeprefix("a "),
        }
        for section, key, value, source in all_rows
        if args.section in (None, section)
    ]
    cli.out.rows(rows, ["section", "key", "value", "source", "allowed"], fmt=args.output)
    if args.output == "table":
        cli.out.note(f"Config file: {config_file(cli.settings.home)}")
    return EXIT_OK


def _get(cli: Cli, args: argparse.Namespace) -> int:
    value = format_value(get_value(cli.settings, args.key))
    key = args.key.partition(".")[2]
    cli.out.line(value if args.reveal else mask_secret(key, value))
    return EXIT_OK
