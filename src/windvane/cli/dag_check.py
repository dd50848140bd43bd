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

from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, UsageError
from windvane.testing.integrity import Baseline, BaselineError, DagFolder, ParseSettings, Policy, run_checks
from windvane.testing.integrity.formats import summary_line, to_json, to_junit, to_text
from windvane.testing.integrity.guards import DEFAULT_SECRET_PATTERNS


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
