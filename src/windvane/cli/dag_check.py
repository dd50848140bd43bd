"""``windvane dags check [FOLDER]``: the DAG integrity checks without pytest and without a database.

The same checks as the pytest plugin (:mod:`windvane.testing.integrity`, one
function per check, shared): every file is parsed once in its own process,
with the parse timeout and the top-level access guards. Exit code 1 when any
check fails (or a baseline entry no longer fails), 0 otherwise. ``--format
json|junit`` for CI systems that do not run pytest; ``--write-baseline FILE``
records today's failures so a messy repository can adopt the checks and
ratchet down.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from windvane.cli.args import positive_int
from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, Subparsers, UsageError, add_command
from windvane.testing.integrity import Baseline, BaselineError, DagFolder, ParseSettings, Policy, run_checks
from windvane.testing.integrity.formats import summary_line, to_json, to_junit, to_text
from windvane.testing.integrity.guards import DEFAULT_SECRET_PATTERNS


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _tags(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def register(group: Subparsers) -> None:
    check = add_command(
        group,
        "check",
        _check,
        "Check every DAG file: imports, cycles, task ids, schedules, top-level I/O (exit 1 on failure).",
        description=__doc__,
    )
    check.add_argument("folder", nargs="?", type=Path, help="DAG folder (default: core.dags_folder).")
    check.add_argument("--format", choices=["text", "json", "junit"], default="text", help="Report format.")
    check.add_argument("--output-file", type=Path, metavar="FILE", help="Write the report here, not stdout.")
    check.add_argument("--baseline", type=Path, metavar="FILE", help="Checks known to fail, with reasons.")
    check.add_argument(
        "--write-baseline", type=Path, metavar="FILE", help="Write a baseline of today's failures and exit 0."
    )
    check.add_argument(
        "--parse-timeout", type=_positive_float, metavar="S", help="Seconds per file (default: processor's)."
    )
    check.add_argument("--parse-budget", type=_positive_float, default=5.0, metavar="S", help="Default 5.")
    check.add_argument("--parse-processes", type=positive_int, metavar="N", help="Default: CPU count.")
    check.add_argument("--require-owner", action="store_true", help="Every task needs an owner.")
    check.add_argument("--min-retries", type=int, default=0, metavar="N", help="Every task retries >= N.")
    check.add_argument(
        "--required-tags", type=_tags, default=(), metavar="A,B", help="Tags every DAG carries."
    )
    check.add_argument("--allowed-tags", type=_tags, default=(), metavar="A,B", help="The only tags allowed.")
    check.add_argument(
        "--secret-env", action="append", default=[], metavar="REGEX", help="More secret env key patterns."
    )


def _check(cli: Cli, args: argparse.Namespace) -> int:
    folder = args.folder or cli.settings.core.dags_folder
    if not os.path.isdir(folder):
        raise UsageError(f"DAG folder {folder} does not exist or is not a folder")
    baseline = None
    if args.baseline is not None:
        try:
            baseline = Baseline.load(args.baseline)
        except BaselineError as exc:
            raise UsageError(f"--baseline: {exc}") from None
    settings = ParseSettings(
        timeout=args.parse_timeout or cli.settings.dag_processor.file_parse_timeout_seconds,
        parallelism=args.parse_processes or os.cpu_count() or 1,
        secret_patterns=(*DEFAULT_SECRET_PATTERNS, *args.secret_env),
    )
    policy = Policy(
        parse_budget=args.parse_budget,
        require_owner=args.require_owner,
        min_retries=args.min_retries,
        required_tags=args.required_tags,
        allowed_tags=args.allowed_tags,
    )
    started = time.monotonic()
    parsed = DagFolder.parse(str(folder), settings)
    results = run_checks(parsed, policy, baseline)
    seconds = time.monotonic() - started
    if args.write_baseline is not None:
        failures = {r.check_id: "TODO: why this is known to fail" for r in results if r.status == "failed"}
        args.write_baseline.write_text(Baseline.render(failures), encoding="utf-8")
        cli.out.note(f"Wrote {len(failures)} entries to {args.write_baseline}: give each one its reason.")
        return EXIT_OK
    if args.format == "json":
        report = to_json(results, str(parsed.folder))
    elif args.format == "junit":
        report = to_junit(results, seconds=seconds)
    else:
        body = to_text(results, verbose=cli.verbose)
        report = "\n".join(p for p in (body, summary_line(results, len(parsed.files), seconds)) if p)
    if args.output_file is not None:
        args.output_file.write_text(report + "\n", encoding="utf-8")
        cli.out.line(summary_line(results, len(parsed.files), seconds))
    else:
        cli.out.line(report)
    return EXIT_FAILURE if any(r.is_failure for r in results) else EXIT_OK
