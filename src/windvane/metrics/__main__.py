"""Write (or check) ``docs/metrics.md`` and ``compose/statsd-mapping.yml`` from the catalogue.

python -m windvane.metrics                 # write both, under the current directory
python -m windvane.metrics --check         # exit 1 naming the files that are stale
python -m windvane.metrics --root DIR      # the repository root to write under
python -m windvane.metrics --mapping-prefix P   # print a mapping for statsd_prefix P
python -m windvane.metrics dashboards --write   # dashboards/*.json and docs/observability.md
python -m windvane.metrics dashboards --check   # exit 1 naming the stale ones
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from windvane.metrics.dashboards import dashboards, rendered
from windvane.metrics.dashboards.docs import render_docs as render_observability
from windvane.metrics.docs import render_docs
from windvane.metrics.mapping import render_mapping

#: Generated file (relative to the repository root) -> its renderer.
GENERATED: dict[str, Callable[[], str]] = {
    "docs/metrics.md": render_docs,
    "compose/statsd-mapping.yml": render_mapping,
}
REGENERATE = "python -m windvane.metrics (from the repository root)"
REGENERATE_DASHBOARDS = "python -m windvane.metrics dashboards --write (from the repository root)"
OBSERVABILITY_DOC = "docs/observability.md"


def dashboard_files() -> dict[str, str]:
    """Generated dashboard file (relative to the repository root) -> its content."""
    files = rendered()
    files[OBSERVABILITY_DOC] = render_observability(dashboards())
    return files


def stale(root: Path) -> list[str]:
    """The generated files under ``root`` whose content differs from what the catalogue gives."""
    out = []
    for rel, render in GENERATED.items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != render():
            out.append(rel)
    return out


def _stale_files(root: Path, files: dict[str, str]) -> list[str]:
    return [
        rel
        for rel, text in files.items()
        if not (root / rel).exists() or (root / rel).read_text(encoding="utf-8") != text
    ]


def dashboards_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m windvane.metrics dashboards")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write dashboards/*.json and the docs page")
    mode.add_argument("--check", action="store_true", help="exit 1 naming the stale files")
    args = parser.parse_args(argv)
    files = dashboard_files()
    if args.check:
        found = _stale_files(args.root, files)
        for rel in found:
            print(f"{rel} is stale: run {REGENERATE_DASHBOARDS}", file=sys.stderr)
        return 1 if found else 0
    for rel, text in files.items():
        path = args.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    for board in dashboards():
        for title, name in board.skipped:
            print(f"{board.file}: panel {title!r} left out: {name} is not in the catalogue")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["dashboards"]:
        return dashboards_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m windvane.metrics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--mapping-prefix")
    args = parser.parse_args(argv)
    if args.mapping_prefix is not None:
        sys.stdout.write(render_mapping(args.mapping_prefix))
        return 0
    if args.check:
        found = stale(args.root)
        for rel in found:
            print(f"{rel} is stale: run {REGENERATE}", file=sys.stderr)
        return 1 if found else 0
    for rel, render in GENERATED.items():
        path = args.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
