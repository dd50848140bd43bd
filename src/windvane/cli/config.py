"""``windvane config list | get``: the settings in effect and where each came from."""

from __future__ import annotations

import argparse

from windvane.cli.base import EXIT_OK, Cli
from windvane.errors import ConfigError
from windvane.settings import allowed_values, config_file, format_value, get_value, mask_secret


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
